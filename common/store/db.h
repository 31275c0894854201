// The one database every hs tool shares, a SQLite file (WAL, a busy timeout, foreign keys) or a
// PostgreSQL database: versioned migrations applied on open, one writer at a time, and a cheap
// way to learn that another process wrote to it. The engine is chosen by Db::Options::postgres;
// callers write SQLite's SQL with ? parameters, which the PostgreSQL side renumbers.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hs {

namespace db_detail {
class StmtImpl;
class Conn;
}  // namespace db_detail

struct DbError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// Another writer held the write lock past the busy timeout (SQLite's SQLITE_BUSY, PostgreSQL's
// lock_not_available): nothing was changed, and the same write may succeed a moment later.
struct DbBusy : DbError {
    using DbError::DbError;
};

class Stmt {
public:
    explicit Stmt(std::unique_ptr<db_detail::StmtImpl> impl);
    ~Stmt();
    Stmt(Stmt&& o) noexcept;
    Stmt& operator=(Stmt&&) = delete;
    Stmt(const Stmt&) = delete;

    // Parameters are 1-based, as in SQLite. Each returns *this so calls chain.
    Stmt& bind(int i, std::int64_t v);
    Stmt& bind(int i, std::string_view v);
    Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
    Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
    Stmt& bind(int i, const std::optional<std::string>& v);
    Stmt& bind_blob(int i, const void* data, std::size_t size);
    Stmt& bind_null(int i);

    // true while a row is available; false when done. Throws DbError on failure.
    bool step();
    // Runs a statement that returns no rows (or ignores them).
    void run();
    void reset();

    std::int64_t int64(int col) const;
    std::string text(int col) const;
    std::optional<std::string> opt_text(int col) const;
    std::vector<std::uint8_t> blob(int col) const;
    bool is_null(int col) const;
    int column_count() const;
    std::string column_name(int col) const;

private:
    std::unique_ptr<db_detail::StmtImpl> st_;
};

class Db {
public:
    // The schema version this build writes. A file with a higher version is refused untouched.
    static constexpr int kSchemaVersion = 11;

    struct Options {
        bool read_only = false;
        // With read_only: a file at an older schema version is opened as it is, for a look that
        // must change nothing (hs-control --check); otherwise it is refused until migrated.
        bool any_older_version = false;
        bool wal = true;
        int wal_autocheckpoint = 1000;
        std::chrono::milliseconds busy_timeout{10000};
        // A libpq connection string ("host=/run/postgresql dbname=hs"): the database is
        // PostgreSQL's, and the path only names it in messages. Empty: a SQLite file at path.
        std::string postgres;
    };

    enum class Dialect { sqlite, postgres };

    // Opens (creating the file and its directory unless read-only) and migrates to
    // kSchemaVersion. Throws DbError naming the path and the reason.
    explicit Db(const std::string& path) : Db(path, Options{}) {}
    Db(const std::string& path, const Options& opts);
    ~Db();
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    // The file, or for PostgreSQL the name messages use ("PostgreSQL hs at /run/postgresql:5432").
    const std::string& path() const { return path_; }
    Dialect dialect() const;
    bool postgres() const { return dialect() == Dialect::postgres; }

    void exec(std::string_view sql);
    Stmt prepare(std::string_view sql);
    std::int64_t last_insert_id() const;
    int changes() const;

    // How long a write waits for another process's write lock before failing with DbError.
    void set_busy_timeout(std::chrono::milliseconds t);

    int schema_version();
    // PostgreSQL: takes a session advisory lock, kept while this Db lives (and taken again
    // after a reconnect; if another session has it then, every later call fails). Always true
    // on SQLite.
    bool try_session_lock(std::int64_t key);
    // The same lock in shared mode: any number of sessions may hold it together, none while
    // another session holds it exclusively (hs-control instances share the database this way;
    // an older hs-control that takes it exclusively cannot join them).
    bool try_session_lock_shared(std::int64_t key);
    // A lock for one duty among several hs-control instances (PostgreSQL: pg_try_advisory_lock).
    // True while this session holds it; tried again on every call until it is held. Unlike a
    // session lock it is not taken back after a reconnect: the session that held it is gone, so
    // another instance may hold it now, and the next call competes again. Always true on SQLite.
    bool hold_duty_lock(std::int64_t key);
    // Moves whenever the connection was made again (PostgreSQL): what this session did under
    // it (its duty locks, and what other instances may have cleared meanwhile) is to be redone.
    // Always 0 on SQLite.
    std::uint64_t session_generation() const;
    // A session lock was lost with the connection and another session holds it now: this Db
    // refuses every call from then on (the process should exit and be restarted).
    bool lock_lost() const;
    // Changes whenever another connection (any process) commits to the file; cheap to poll.
    // PostgreSQL: whenever another session commits a change_log or audit_log row (a NOTIFY).
    std::int64_t data_version();

    // BEGIN IMMEDIATE ... COMMIT, rolled back if not committed. Waits up to busy_timeout for
    // another writer (PostgreSQL: a transaction-scoped advisory lock all hs writers take, so
    // writers are serialized as SQLite serializes them).
    class Tx {
    public:
        explicit Tx(Db& db);
        ~Tx();
        void commit();

    private:
        Db& db_;
        bool done_ = false;
    };

private:
    void migrate();
    void check_version(const Options& opts);

    std::unique_ptr<db_detail::Conn> conn_;
    std::string path_;
};

}  // namespace hs
