#include "common/admin/net/preflight.h"
#include "common/config/database.h"

#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <stdexcept>

#include "common/admin/events.h"
#include "common/admin/ops.h"
#include "common/admin/webhook.h"
#include "common/base/files.h"
#include "common/base/key_file.h"
#include "common/config/derpmap.h"
#include "common/derp/net/mesh.h"
#include "common/net/http_fetch.h"
#include "common/net/tls.h"
#include "common/policy/engine.h"
#include "common/store/db.h"
#include "common/store/store.h"

namespace hs::admin {
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
    if (database_is_postgres(cfg)) {
        // Connects (an unreachable server is the error here), reads the version, writes nothing.
        auto opts = database_options(cfg);
        opts.read_only = true;
        opts.any_older_version = true;
        auto db = std::make_unique<Db>(database_name(cfg), opts);
        const int v = db->schema_version();
        notes.push_back(database_name(cfg) + (v == 0 ? " is empty (hs-control creates the schema at start)"
                                                     : " is at schema version " + std::to_string(v)));
        return v == 0 ? nullptr : std::move(db);
    }
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

// The DERP map as start-up builds it: a URL that fails is a warning there, an empty map stops it.
void check_derp_map(const Config& cfg, std::vector<std::string>& notes) {
    std::map<std::string, nlohmann::json> none;
    std::vector<std::string> failures;
    const auto map = derp_map_from_config(
        cfg, [](const std::string& url) { return http_get(url, std::chrono::seconds(10)); }, none, failures);
    require_derp_regions(map);
    for (const auto& f : failures) notes.push_back("DERP map: " + f);
}

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

Preflight preflight(const Config& cfg) {
    // In start-up's order, so the first problem named is the one start-up would stop at.
    Preflight out;
    const auto db = open_database(cfg, out.notes);
    if (const auto hooks = load_webhooks(cfg); !hooks.empty())
        out.notes.push_back(std::to_string(hooks.size()) + " webhook(s)");
    check_key("the Noise key", cfg.noise_private_key_path, out.notes);
    if (cfg.derp.server_enabled) check_key("the DERP key", cfg.derp.private_key_path, out.notes);
    if (cfg.derp.server_enabled && !cfg.derp.mesh_key_path.empty()) {
        derp::load_mesh_key(cfg.derp.mesh_key_path);
        for (const auto& peer : cfg.derp.mesh_with) {
            try {
                derp::parse_dial_target(peer);
            } catch (const std::invalid_argument& e) {
                throw std::runtime_error("derp.server.mesh_with: " + std::string(e.what()));
            }
        }
        out.notes.push_back("the embedded DERP meshes with " + std::to_string(cfg.derp.mesh_with.size()) + " peer(s)");
    }
    if (!cfg.tls_cert_path.empty()) tls_from_files(cfg.tls_cert_path, cfg.tls_key_path);
    check_acme(cfg, out.notes);
    check_derp_map(cfg, out.notes);
    out.policy_problems = check_policy(cfg, db.get());
    return out;
}

std::vector<WebhookTarget> load_webhooks(const Config& cfg) {
    if (!cfg.webhooks.empty() && cfg.database_path == ":memory:")
        throw std::runtime_error("notifications.webhooks need a database file (database.sqlite.path is :memory:)");
    std::vector<WebhookTarget> out;
    for (const auto& w : cfg.webhooks) {
        try {
            parse_http_url(w.url);
        } catch (const FetchError& e) {
            throw std::runtime_error(std::string("notifications.webhooks: ") + e.what());
        }
        const auto& known = event_names();
        for (const auto& name : w.events)
            if (std::find(known.begin(), known.end(), name) == known.end()) {
                std::string list;
                for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
                throw std::runtime_error("notifications.webhooks: " + w.url + ": unknown event " + name +
                                         " (known: " + list + ")");
            }
        try {
            out.push_back({w, read_webhook_secret(w.secret_path)});
        } catch (const std::exception& e) {
            throw std::runtime_error("notifications.webhooks: " + w.url + ": " + e.what());
        }
    }
    return out;
}

}  // namespace hs::admin
