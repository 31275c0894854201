#include "common/config/database.h"

namespace hs {
namespace {

// A conninfo value in single quotes, with \ and ' escaped as libpq reads them.
std::string quoted(const std::string& v) {
    std::string out = "'";
    for (const char ch : v) {
        if (ch == '\\' || ch == '\'') out += '\\';
        out += ch;
    }
    return out + "'";
}

}  // namespace

std::string postgres_conninfo(const Config& c) {
    const auto& p = c.postgres;
    // connect_timeout: a server that does not answer is an error at start, not a hang.
    std::string s = "connect_timeout=10 application_name=hs";
    auto add = [&](const char* key, const std::string& v) {
        if (!v.empty()) s += std::string(" ") + key + "=" + quoted(v);
    };
    add("host", p.host);
    if (p.port > 0) add("port", std::to_string(p.port));
    add("dbname", p.name);
    add("user", p.user);
    add("password", p.pass);
    add("sslmode", p.ssl);
    return s;
}

std::string database_name(const Config& c) {
    if (c.database_type != "postgres") return c.database_path;
    const auto& p = c.postgres;
    return "PostgreSQL " + p.name + " at " + (p.host.empty() ? "localhost" : p.host) + ":" +
           std::to_string(p.port > 0 ? p.port : 5432);
}

}  // namespace hs
