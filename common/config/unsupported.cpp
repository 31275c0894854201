// headscale keys hs accepts (so headscale's config.yaml loads unchanged) but where it does
// something different or nothing: one warning line each at start, naming what hs does instead.
// Keys only warn when the file sets them to something that asks for behaviour hs lacks.
#include <map>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/config/reader.h"

namespace hs::config_detail {
namespace {

struct Warner {
    const std::map<std::string, std::string>& where;
    Problems& p;

    bool set(const std::string& key) const { return where.count(key) > 0; }
    // The keys of `keys` the file sets, joined, with the line of the first one.
    std::string set_keys(std::initializer_list<const char*> keys, std::string& at) const {
        std::string out;
        for (const char* k : keys) {
            if (!set(k)) continue;
            if (out.empty()) at = where.at(k);
            out += (out.empty() ? "" : ", ") + std::string(k);
        }
        return out;
    }
    void group(std::initializer_list<const char*> keys, const std::string& what) const {
        std::string at;
        const auto names = set_keys(keys, at);
        if (!names.empty()) p.warnings.push_back(at + ": " + names + ": " + what);
    }
    void one(const std::string& key, const std::string& what) const {
        if (set(key)) p.warnings.push_back(where.at(key) + ": " + key + ": " + what);
    }
};

void warn_different(const Config& c, const Warner& w) {
    w.group({"grpc_listen_addr", "grpc_allow_insecure"},
            "hs has no gRPC API (headscale's CLI cannot connect); use hs-admin on this machine or hs-admin --remote "
            "over the REST API");
    w.group({"unix_socket", "unix_socket_permission"},
            "hs has no admin socket; hs-admin works on the database file directly");
    if (!c.dns.extra_records_path.empty())
        w.one("dns.extra_records_path",
              "hs does not read this file, so its records are not served; list them in "
              "dns.extra_records instead");
    if (c.ha_probe_interval.count() != 0)
        w.group({"node.routes.ha.probe_interval", "node.routes.ha.probe_timeout"},
                "hs does not probe subnet routers; a primary router is replaced when its connection ends (TCP "
                "keepalive notices a vanished host within about 30 s)");
    if (c.auto_update_enabled)
        w.one("auto_update.enabled",
              "hs does not send the default-auto-update node capability; clients keep their "
              "own auto-update setting");
    w.one("derp.server.stun.enabled", "no effect in hs: the embedded DERP's STUN runs on stun_listen_addr");
    w.group({"database.debug", "database.gorm.prepare_stmt", "database.gorm.parameterized_queries",
             "database.gorm.skip_err_record_not_found", "database.gorm.slow_threshold"},
            "no effect in hs (headscale's GORM settings)");
    if (c.database_type == "postgres") {
        w.group({"database.sqlite.path", "database.sqlite.write_ahead_log", "database.sqlite.wal_autocheckpoint"},
                "no effect with database.type postgres");
        w.group({"database.postgres.max_open_conns", "database.postgres.max_idle_conns",
                 "database.postgres.conn_max_idle_time_secs"},
                "no effect in hs: each hs-control thread that uses the database holds one connection for its life");
    } else {
        w.group({"database.postgres.host", "database.postgres.port", "database.postgres.name", "database.postgres.user",
                 "database.postgres.pass", "database.postgres.pass_path", "database.postgres.ssl",
                 "database.postgres.max_open_conns", "database.postgres.max_idle_conns",
                 "database.postgres.conn_max_idle_time_secs"},
                "no effect with database.type sqlite");
    }
    w.group({"cli.address", "cli.api_key", "cli.timeout", "cli.insecure"},
            "hs-admin does not read these; use hs-admin --remote URL with --api-key or $HS_API_KEY");
    w.group({"tuning.notifier_send_timeout", "tuning.batch_change_delay", "tuning.node_mapsession_buffered_chan_size",
             "tuning.batcher_workers", "tuning.register_cache_expiration", "tuning.register_cache_max_entries",
             "tuning.node_store_batch_size", "tuning.node_store_batch_timeout"},
            "no effect in hs (headscale's internal tuning)");
    w.one("preauth_keys.revoked_retention", "no effect in hs: expired keys stay until deleted");
}

}  // namespace

void warn_unsupported(const Config& c, const std::map<std::string, std::string>& where, Problems& p) {
    const Warner w{where, p};
    warn_different(c, w);
}

}  // namespace hs::config_detail
