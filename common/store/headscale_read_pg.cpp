// Reads headscale's PostgreSQL database (database.type: postgres) into the same rows the
// SQLite reader gives: one READ ONLY, REPEATABLE READ transaction, every value in the text form
// the SQLite file would hold (bytea as its bytes, booleans as 0/1, times with a full offset).
#include <libpq-fe.h>

#include <memory>

#include "common/store/headscale_import.h"

namespace hs::store {
namespace {

// PostgreSQL type OIDs (src/include/catalog/pg_type.dat).
constexpr Oid kBool = 16, kBytea = 17, kTimestamp = 1114, kTimestampTz = 1184;

struct ConnClose {
    void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultClear {
    void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultClear>;

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// bytea's text output since PostgreSQL 9.0: "\x" and two hex digits per byte.
std::optional<std::string> bytea_bytes(const std::string& text) {
    if (text.rfind("\\x", 0) != 0 || text.size() % 2 != 0) return std::nullopt;
    std::string out;
    for (std::size_t i = 2; i < text.size(); i += 2) {
        const int hi = hex_digit(text[i]), lo = hex_digit(text[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<char>(hi * 16 + lo));
    }
    return out;
}

// "2025-02-05 16:46:13.96+00" -> "...+00:00", the form the SQLite reader sees.
std::string full_offset(std::string t) {
    const auto sign = t.find_last_of("+-");
    if (sign != std::string::npos && sign > 10 && t.size() - sign == 3) t += ":00";
    return t;
}

class PgSource {
public:
    explicit PgSource(const std::string& url) : name_(redacted_postgres_url(url)) {
        conn_.reset(PQconnectdb(url.c_str()));
        if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK)
            throw ImportError(name_ + ": cannot connect to headscale's PostgreSQL: " + error() + kNothingImported);
    }

    Result exec(const std::string& sql) {
        Result r(PQexec(conn_.get(), sql.c_str()));
        const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
            throw ImportError(name_ + ": reading headscale's PostgreSQL failed: " + error() + kNothingImported);
        return r;
    }

    std::string scalar(const std::string& sql) {
        const auto r = exec(sql);
        return PQntuples(r.get()) > 0 && !PQgetisnull(r.get(), 0, 0) ? PQgetvalue(r.get(), 0, 0) : "";
    }

    bool has_table(const std::string& table) {
        return scalar("SELECT to_regclass('" + table + "') IS NOT NULL") == "t";
    }

    // Table names come from a fixed list, never from input.
    std::vector<HeadscaleRow> rows(const std::string& table) {
        const auto r = exec("SELECT * FROM \"" + table + "\" ORDER BY id");
        std::vector<HeadscaleRow> out;
        for (int row = 0; row < PQntuples(r.get()); ++row) {
            HeadscaleRow values;
            for (int col = 0; col < PQnfields(r.get()); ++col) {
                const std::string name = PQfname(r.get(), col);
                if (PQgetisnull(r.get(), row, col)) {
                    values[name] = std::nullopt;
                    continue;
                }
                values[name] = value(r.get(), row, col, table, name);
            }
            out.push_back(std::move(values));
        }
        return out;
    }

    const std::string& name() const { return name_; }

private:
    std::string error() const {
        std::string e = conn_ ? PQerrorMessage(conn_.get()) : "out of memory";
        while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.pop_back();
        for (auto& c : e)
            if (c == '\n' || c == '\t') c = ' ';
        return e;
    }

    std::string value(PGresult* r, int row, int col, const std::string& table, const std::string& column) const {
        std::string v = PQgetvalue(r, row, col);
        switch (PQftype(r, col)) {
            case kBool: return v == "t" ? "1" : "0";
            case kTimestamp:
            case kTimestampTz: return full_offset(v);
            case kBytea:
                if (auto bytes = bytea_bytes(v)) return *bytes;
                throw ImportError(name_ + ": headscale " + table + ": " + column + ": unreadable bytea" +
                                  kNothingImported);
            default: return v;
        }
    }

    std::unique_ptr<PGconn, ConnClose> conn_;
    std::string name_;
};

}  // namespace

std::string redacted_postgres_url(const std::string& url) {
    const auto scheme = url.find("://");
    const auto at = url.find('@');
    if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
    const auto colon = url.find(':', scheme + 3);
    if (colon == std::string::npos || colon > at) return url;
    return url.substr(0, colon) + ":***" + url.substr(at);
}

HeadscaleTables read_headscale_postgres(const std::string& url) {
    PgSource src(url);
    // headscale keeps connections open while it runs; any other session on the database is
    // taken for a running headscale.
    const auto others = src.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND backend_type = 'client backend'");
    if (!others.empty() && others != "0")
        throw ImportError(src.name() + ": " + others +
                          " other session(s) are connected to the headscale database "
                          "(headscale still running?); stop headscale first so nothing it writes after the import "
                          "is lost" +
                          kNothingImported);
    // Values in the forms value() expects, whatever the server's defaults.
    src.exec("SET TIME ZONE 'UTC'; SET DateStyle = ISO; SET bytea_output = hex");
    src.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (!src.has_table("users") || !src.has_table("nodes"))
        throw ImportError(src.name() +
                          ": a PostgreSQL database, but not headscale's (it has no users and nodes "
                          "tables)" +
                          kNothingImported);
    HeadscaleTables t;
    t.has_migrations_table = src.has_table("migrations");
    if (t.has_migrations_table)
        for (const auto& row : src.rows("migrations"))
            if (const auto it = row.find("id"); it != row.end() && it->second) t.migrations.push_back(*it->second);
    if (src.has_table("database_versions"))
        t.database_version = src.scalar("SELECT version FROM database_versions WHERE id = 1");
    for (const char* name : {"users", "nodes", "pre_auth_keys", "api_keys", "policies", "routes"})
        if (src.has_table(name)) t.tables[name] = src.rows(name);
    src.exec("COMMIT");
    return t;
}

}  // namespace hs::store
