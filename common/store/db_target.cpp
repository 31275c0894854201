#include "common/store/db_target.h"

#include <libpq-fe.h>

#include <map>
#include <memory>

namespace hs {
namespace {

struct OptionsFree {
    void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};

// libpq's parse errors quote the offending piece of the string (`missing "=" after "s3cret"`),
// which may be the password: every quoted piece longer than one character becomes "...".
std::string without_quoted_input(std::string msg) {
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    std::string out;
    std::size_t i = 0;
    while (i < msg.size()) {
        const auto open = msg.find('"', i);
        const auto close = open == std::string::npos ? open : msg.find('"', open + 1);
        if (close == std::string::npos) break;
        out += msg.substr(i, open - i);
        out += close - open > 2 ? "\"...\"" : msg.substr(open, close - open + 1);
        i = close + 1;
    }
    return out + msg.substr(std::min(i, msg.size()));
}

// libpq's parse of `arg`: keyword -> value for what it sets (no defaults, no environment).
std::map<std::string, std::string> parse_conninfo(const std::string& arg) {
    char* err = nullptr;
    std::unique_ptr<PQconninfoOption, OptionsFree> opts(PQconninfoParse(arg.c_str(), &err));
    if (!opts) {
        const std::string why = err ? without_quoted_input(err) : "out of memory";
        if (err) PQfreemem(err);
        throw DbError("not a PostgreSQL connection string libpq can read: " + why);
    }
    std::map<std::string, std::string> out;
    for (auto* o = opts.get(); o->keyword; ++o)
        if (o->val) out[o->keyword] = o->val;
    return out;
}

// "PostgreSQL hs at /run/postgresql:5432", as database_name() says it for hs-control's config.
std::string display_name(const std::map<std::string, std::string>& kv) {
    auto get = [&](const char* k) {
        const auto it = kv.find(k);
        return it == kv.end() ? std::string() : it->second;
    };
    std::string db = get("dbname");
    // A dbname may itself be a connection string (libpq expands one in some calls): not shown.
    if (db.find('=') != std::string::npos || db.find("://") != std::string::npos) db = "(a connection string)";
    if (db.empty()) db = get("service").empty() ? "(default database)" : "of service " + get("service");
    return postgres_display_name(db, get("host").empty() ? get("hostaddr") : get("host"), get("port"));
}

}  // namespace

std::string conninfo_quoted(const std::string& v) {
    std::string out = "'";
    for (const char ch : v) {
        if (ch == '\\' || ch == '\'') out += '\\';
        out += ch;
    }
    return out + "'";
}

bool is_postgres_url(std::string_view arg) {
    return arg.starts_with("postgres://") || arg.starts_with("postgresql://");
}

std::string postgres_display_name(const std::string& db, const std::string& host, const std::string& port) {
    return "PostgreSQL " + db + " at " + (host.empty() ? "localhost" : host) + ":" + (port.empty() ? "5432" : port);
}

bool names_postgres(std::string_view arg) {
    if (is_postgres_url(arg)) return true;
    std::size_t i = 0;
    while (i < arg.size() && (arg[i] == ' ' || arg[i] == '\t')) ++i;
    const std::size_t word = i;
    while (i < arg.size() && ((arg[i] >= 'a' && arg[i] <= 'z') || (arg[i] >= 'A' && arg[i] <= 'Z') || arg[i] == '_'))
        ++i;
    if (i == word) return false;
    while (i < arg.size() && (arg[i] == ' ' || arg[i] == '\t')) ++i;
    return i < arg.size() && arg[i] == '=';
}

DbTarget parse_db_target(const std::string& arg, std::string_view application_name) {
    if (!names_postgres(arg)) return {arg, ""};
    auto kv = parse_conninfo(arg);
    kv.try_emplace("connect_timeout", kPgConnectTimeout);
    kv.try_emplace("tcp_user_timeout", kPgTcpUserTimeout);
    kv.try_emplace("application_name", application_name);
    DbTarget t{display_name(kv), ""};
    for (const auto& [k, v] : kv) t.postgres += (t.postgres.empty() ? "" : " ") + k + "=" + conninfo_quoted(v);
    return t;
}

}  // namespace hs
