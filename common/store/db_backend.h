// What Db and Stmt need from a database engine: SQLite (db_sqlite.cpp) or PostgreSQL
// (db_pg.cpp). Callers see only Db and Stmt; this header is for those two files and db.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/store/db.h"

struct sqlite3;

namespace hs::db_detail {

class StmtImpl {
public:
    virtual ~StmtImpl() = default;
    virtual void bind_int(int i, std::int64_t v) = 0;
    virtual void bind_text(int i, std::string_view v) = 0;
    virtual void bind_blob(int i, const void* data, std::size_t size) = 0;
    virtual void bind_null(int i) = 0;
    virtual bool step() = 0;
    virtual void reset() = 0;
    virtual std::int64_t int64(int col) const = 0;
    virtual std::string text(int col) const = 0;
    virtual std::vector<std::uint8_t> blob(int col) const = 0;
    virtual bool is_null(int col) const = 0;
    virtual int column_count() const = 0;
    virtual std::string column_name(int col) const = 0;
};

class Conn {
public:
    virtual ~Conn() = default;
    virtual std::unique_ptr<StmtImpl> prepare(std::string_view sql) = 0;
    virtual void exec(std::string_view sql) = 0;
    virtual std::int64_t last_insert_id() const = 0;
    virtual int changes() const = 0;
    virtual void set_busy_timeout(std::chrono::milliseconds t) = 0;
    // 0 for a database hs never migrated.
    virtual int schema_version() = 0;
    // Inside the migration's transaction.
    virtual void set_schema_version(int v) = 0;
    // Whether the database holds tables of anyone's (to refuse a foreign one at version 0).
    virtual bool has_tables() = 0;
    virtual std::int64_t data_version() = 0;
    // PostgreSQL: pg_try_advisory_lock, held for the connection's life and taken again after a
    // reconnect. SQLite has none (hs-control's lock file is beside the database).
    virtual bool try_session_lock(std::int64_t, bool /*shared*/) { return true; }
    // PostgreSQL: pg_try_advisory_lock, forgotten (not taken again) after a reconnect.
    virtual bool hold_duty_lock(std::int64_t) { return true; }
    virtual std::uint64_t session_generation() const { return 0; }
    // A session lock could not be taken back after a reconnect: every call fails from then on.
    virtual bool lock_lost() const { return false; }
    // Starts a write transaction that excludes every other writer until it ends.
    virtual void begin_write() = 0;
    // After the version check, so a newer or foreign database is left as it was.
    virtual void configure(const Db::Options& opts) = 0;
    virtual Db::Dialect dialect() const = 0;
};

struct Migration {
    int version;
    const char* sql;           // both engines, or SQLite's where pg is set
    const char* pg = nullptr;  // PostgreSQL's form where the two must differ
};
const std::vector<Migration>& migrations();

// SQLite's dialect of the schema, spelled for PostgreSQL: its column types.
std::string pg_types(std::string_view sqlite_sql);

// A statement on a SQLite handle of the caller's (the headscale importer reads a file hs does
// not own with it).
std::unique_ptr<StmtImpl> sqlite_stmt(sqlite3* db, std::string_view sql);

std::unique_ptr<Conn> open_sqlite(const std::string& path, const Db::Options& opts);
std::unique_ptr<Conn> open_pg(const std::string& name, const Db::Options& opts);

}  // namespace hs::db_detail
