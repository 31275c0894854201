#include "common/config/database.h"

#include "common/base/secret_file.h"
#include "common/store/db_target.h"

namespace hs {

std::string postgres_conninfo(const Config& c) {
    const auto& p = c.postgres;
    // From a failed query on, the reconnection never waits (db_pg.cpp).
    std::string s = std::string("connect_timeout=") + kPgConnectTimeout + " tcp_user_timeout=" + kPgTcpUserTimeout +
                    " application_name=hs";
    auto add = [&](const char* key, const std::string& v) {
        if (!v.empty()) s += std::string(" ") + key + "=" + conninfo_quoted(v);
    };
    add("host", p.host);
    if (p.port > 0) add("port", std::to_string(p.port));
    add("dbname", p.name);
    add("user", p.user);
    add("password", p.pass_path.empty() ? p.pass : read_secret_file("database.postgres.pass_path", p.pass_path));
    add("sslmode", p.ssl);
    return s;
}

std::string database_name(const Config& c) {
    if (c.database_type != "postgres") return c.database_path;
    const auto& p = c.postgres;
    return postgres_display_name(p.name, p.host, p.port > 0 ? std::to_string(p.port) : "");
}

}  // namespace hs
