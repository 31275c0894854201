#include "tools/hs-control/check.h"

#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <vector>

#include "common/base/files.h"
#include "common/base/key_file.h"
#include "common/net/asio.h"
#include "common/net/tls.h"
#include "common/policy/engine.h"
#include "common/store/db.h"
#include "common/store/store.h"
#include "tools/hs-control/derp_refresh.h"
#include "tools/hs-control/policy_file.h"
#include "tools/hs-control/webhooks.h"

namespace hs::control {
namespace {

// A key file that exists must be private and parse; one that does not must be creatable.
void check_key(const std::string& what, const std::string& path, std::vector<std::string>& notes) {
    if (load_key_file_if_present(path)) return;
    if (const auto problem = creation_problem(path, true); !problem.empty()) throw std::runtime_error(problem);
    notes.push_back(what + " " + path + " will be created");
}

// ACME: the certificate cache must be usable (creatable when it does not exist yet).
void check_acme(const Config& cfg, std::vector<std::string>& notes) {
    if (cfg.tls_letsencrypt_hostname.empty()) return;
    const auto& dir = cfg.tls_letsencrypt_cache_dir;
    if (const auto problem = creation_problem(dir + "/certificate", true); !problem.empty())
        throw std::runtime_error("ACME certificate cache: " + problem);
    notes.push_back(::access(dir.c_str(), F_OK) == 0
                        ? "ACME certificates for " + cfg.tls_letsencrypt_hostname + " are kept in " + dir
                        : "an ACME certificate for " + cfg.tls_letsencrypt_hostname + " will be requested from " +
                              cfg.acme_url);
}

// The database as it is, opened read-only; nullptr when start-up would create it.
std::unique_ptr<Db> open_database(const Config& cfg, std::vector<std::string>& notes) {
    const auto& path = cfg.database_path;
    if (path == ":memory:") {
        notes.push_back("the database is in memory");
        return nullptr;
    }
    if (::access(path.c_str(), F_OK) != 0) {
        if (const auto problem = creation_problem(path, true); !problem.empty()) throw DbError(problem);
        notes.push_back("database " + path + " will be created");
        return nullptr;
    }
    auto db = std::make_unique<Db>(path, Db::Options{.read_only = true, .any_older_version = true});
    const int v = db->schema_version();
    notes.push_back(
        "database " + path + " is at schema version " + std::to_string(v) +
        (v < Db::kSchemaVersion ? " (migrated to " + std::to_string(Db::kSchemaVersion) + " at start)" : ""));
    return db;
}

// The policy in force must parse and pass its own checks (users and nodes are the server's to
// resolve). Empty when it does, else every problem with its line and column.
std::string check_policy(const Config& cfg, Db* db) {
    std::optional<std::string> text;
    std::string where;
    if (cfg.policy_mode == "database") {
        if (db)
            if (const auto stored = store::latest_policy(*db)) text = stored->data;
        where = "the stored policy";
    } else {
        text = read_policy_file(cfg.policy_path);
        where = "policy file " + cfg.policy_path;
    }
    if (!text) return {};
    const auto problems = policy::check(*text);
    return problems.empty() ? std::string() : where + " is refused:\n" + policy::format_problems(problems);
}

}  // namespace

int check_config(const Config& cfg, const std::string& config_path) {
    // In start-up's order, so the first problem named is the one start-up would stop at.
    std::vector<std::string> notes;
    const auto db = open_database(cfg, notes);
    EventNotifier{cfg};  // webhooks: URLs, secrets readable, event names known
    if (!cfg.webhooks.empty()) notes.push_back(std::to_string(cfg.webhooks.size()) + " webhook(s)");
    check_key("the Noise key", cfg.noise_private_key_path, notes);
    if (cfg.derp.server_enabled) check_key("the DERP key", cfg.derp.private_key_path, notes);
    if (!cfg.tls_cert_path.empty()) tls_from_files(cfg.tls_cert_path, cfg.tls_key_path);
    check_acme(cfg, notes);
    boost::asio::io_context io;
    DerpRefresher(io, cfg, "").build_initial();
    if (const auto problems = check_policy(cfg, db.get()); !problems.empty()) {
        std::fprintf(stderr, "%s\n", problems.c_str());
        return 1;
    }
    std::string line = "configuration " + config_path + " is valid";
    for (const auto& n : notes) line += "; " + n;
    std::printf("%s\n", line.c_str());
    return 0;
}

}  // namespace hs::control
