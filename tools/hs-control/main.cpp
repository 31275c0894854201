// hs-control: the coordination server. Flags and wiring only; the work is in server.cpp
// (network), noise_conn.cpp (TS2021 + HTTP/2), tailnet.cpp/register.cpp/poll.cpp (logic).

#include <spdlog/spdlog.h>
#include "common/admin/net/preflight.h"
#include "common/net/asio.h"

#include "common/base/cli.h"
#include "common/base/key_file.h"
#include "common/base/keys.h"
#include "common/base/lock_file.h"
#include "common/base/log.h"
#include "common/config/config.h"
#include "common/config/database.h"
#include "common/store/checkpointer.h"
#include "common/store/db.h"
#include "common/store/store.h"
#include "tools/hs-control/conn_deadline.h"
#include "tools/hs-control/derp_refresh.h"
#include "tools/hs-control/embedded_derp.h"
#include "tools/hs-control/local_login.h"
#ifdef HS_FAULT_INJECTION
#include <cstdlib>

#include "tools/hs-control/fault_hook.h"
#endif
#include "tools/hs-control/oidc_login.h"
#include "tools/hs-control/policy_file.h"
#include "tools/hs-control/server.h"
#include "tools/hs-control/tailnet.h"
#include "tools/hs-control/webhooks.h"

namespace {

// --check: one line on stdout saying what was checked and what start-up will create or migrate,
// and 0; a refused policy on stderr with its lines and columns, and 1. Other problems throw.
int check(const hs::Config& cfg, const std::string& config_path) {
    const auto result = hs::admin::preflight(cfg);
    if (!result.policy_problems.empty()) {
        std::fprintf(stderr, "%s\n", result.policy_problems.c_str());
        return 1;
    }
    std::string line = "configuration " + config_path + " is valid";
    for (const auto& n : result.notes) line += "; " + n;
    std::printf("%s\n", line.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"The hs coordination server: Tailscale clients log in, get their netmaps and find each other here.",
                 "hs-control"};
    hs::CommonFlags flags;
    hs::add_common_flags(app, flags);
    std::string config_path = hs::config_path();
    app.add_option("-c,--config", config_path, "Configuration file (headscale's config.yaml works too)")
        ->capture_default_str();
    bool check_only = false;
    app.add_flag(
        "--check", check_only,
        "Validate the configuration, keys, database, DERP map and policy without changing anything, then exit");
    return hs::run_main(app, flags, argc, argv, [&] {
        auto loaded = hs::load_config_file(config_path);
        auto& cfg = loaded.config;
        if (!app.count("--log-level") || !app.count("--log-format"))
            hs::setup_logging(app.count("--log-level") ? flags.log_level : cfg.log_level,
                              app.count("--log-format") ? flags.log_format : cfg.log_format);
        for (const auto& w : loaded.warnings) spdlog::warn("{}", w);
#ifdef HS_FAULT_INJECTION
        // hs-control-fault only (the crash test's build); hs-control has no such code.
        hs::control::install_fault_hook_from_env();
        if (const char* p = std::getenv("HS_FAULT_POINT")) spdlog::warn("test build: crash point armed: {}", p);
#endif

        // Live state (online, primary routes) belongs to the instance serving it. On SQLite a
        // second one started by mistake must exit before it writes anything; on PostgreSQL each
        // instance has a slot, its bit of nodes.online.
        hs::control::ts2021_limits();  // a malformed test override fails here, not at the first tick
        if (check_only) return check(cfg, config_path);
        const bool postgres = hs::database_is_postgres(cfg);
        std::unique_ptr<hs::LockFile> lock;
        if (!postgres && cfg.database_path != ":memory:")
            lock = std::make_unique<hs::LockFile>(cfg.database_path + ".lock", "database " + cfg.database_path);
        hs::Db db(hs::database_name(cfg), hs::database_options(cfg));
        // PostgreSQL's counterpart of the lock file: a slot among the instances sharing the
        // database, held by this connection for the process's life (0 on SQLite).
        const int slot = hs::store::claim_instance_slot(db);
        bool created = false;
        const auto noise_key = hs::load_or_create_key_file(cfg.noise_private_key_path, &created);
        if (created) spdlog::info("created Noise key {}", cfg.noise_private_key_path);
        // Clients pin the Noise key: instances behind one server_url must share it.
        hs::store::register_instance(db, slot, hs::key_text(hs::kMachinePrefix, noise_key.public_key().bytes),
                                     hs::Clock::now());
        if (postgres) spdlog::info("instance slot {} on {}", slot, db.path());
        hs::control::EventNotifier notifier(cfg);  // a bad webhook stops the start here
        boost::asio::io_context io;
        std::unique_ptr<hs::control::EmbeddedDerp> embedded;
        if (cfg.derp.server_enabled) embedded = std::make_unique<hs::control::EmbeddedDerp>(io, cfg);
        hs::control::DerpRefresher derp(io, cfg, embedded ? embedded->cert_name() : "");
        auto derp_map = derp.build_initial();
        hs::control::Tailnet tailnet(db, cfg, derp_map);
        hs::control::Server server(io, cfg, db, tailnet, noise_key, embedded.get());
        hs::control::OidcLogin oidc(cfg, db);
        oidc.start();  // blocking: the provider's metadata and keys before anything is served
        server.set_oidc(&oidc);
        hs::control::LocalLogin local_login(cfg, db, server.login_guard());
        local_login.start();
        server.set_local_login(&local_login);
        // Every address is bound before the database changes: one that is taken ends the
        // process with the live state untouched.
        server.listen();
        if (embedded) embedded->listen();
        hs::store::clear_instance_presence(db, slot);
        hs::store::reap_dead_instances(db, hs::Clock::now());
        tailnet.set_instance_slot(slot);
        tailnet.instance_duties(hs::Clock::now());
        tailnet.load();  // policy.mode database: the stored policy too
        hs::control::PolicyFile policy_file(io, cfg.policy_mode == "file" ? cfg.policy_path : "", tailnet);
        if (cfg.policy_mode == "file") policy_file.load_initial();
        // From here on every database call runs on the event loop that also serves maps,
        // keepalives and /health: a write waits at most this long for another process's lock
        // (hs-admin's transactions take milliseconds), then fails and is retried or refused.
        db.set_busy_timeout(std::chrono::milliseconds(100));
        // The fsyncs of WAL checkpoints happen on their own thread, not in a commit on the loop.
        const bool checkpoint_here = !postgres && cfg.database_wal && cfg.database_wal_autocheckpoint > 0;
        if (checkpoint_here) db.exec("PRAGMA wal_autocheckpoint = 0");
        hs::DbCheckpointer checkpointer(cfg.database_path, checkpoint_here);

        if (embedded) embedded->start(tailnet);
        server.start();
        boost::asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code&, int sig) {
            spdlog::info("signal {}: shutting down", sig);
            server.stop();
            io.stop();
        });
        boost::asio::signal_set hup(io, SIGHUP);
        std::function<void(const boost::system::error_code&, int)> on_hup = [&](const boost::system::error_code& ec,
                                                                                int) {
            if (ec) return;
            spdlog::info("SIGHUP: reloading the DERP map and the policy file");
            derp.refresh(tailnet);
            if (cfg.policy_mode == "file") policy_file.reload();
            hup.async_wait(on_hup);
        };
        hup.async_wait(on_hup);
        derp.start(tailnet);
        policy_file.start();
        notifier.start();
        server.add_metrics_text([&notifier] { return notifier.metrics_text(); });
        io.run();
        hs::store::clear_instance_presence(db, slot);
        if (!server.fatal_error().empty()) throw std::runtime_error(server.fatal_error());
        return 0;
    });
}
