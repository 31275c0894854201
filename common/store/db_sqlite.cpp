// The SQLite engine behind Db: one file, WAL, a busy timeout, PRAGMA user_version as the schema
// version and PRAGMA data_version as the sign that another connection wrote.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "common/base/files.h"
#include "common/store/db_backend.h"

namespace hs::db_detail {
namespace {

// SQLITE_BUSY after the busy timeout means another process kept the write lock too long;
// say so, since "database is locked" alone reads like a permanent fault.
bool is_busy(sqlite3* db) { return db && (sqlite3_extended_errcode(db) & 0xff) == SQLITE_BUSY; }

std::string busy_hint(sqlite3* db) {
    if (!is_busy(db)) return "";
    return " (another process held a write transaction longer than the busy timeout; nothing was changed, try again)";
}

[[noreturn]] void throw_error(sqlite3* db, const std::string& msg) {
    if (is_busy(db)) throw DbBusy(msg + busy_hint(db));
    throw DbError(msg);
}

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
    throw_error(db, what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

// SQLite would create the file 0644 less the umask, and it gives -wal, -shm and -journal the
// main file's mode; creating the file 0600 first keeps all of them private whatever the umask.
// A file that exists keeps its mode (an admin may share it with a group on purpose). SQLite
// reports a read-only mount or an unwritable directory only as "unable to open database file"
// (often at the first write), so those are named here before it runs.
void prepare_writable(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        const bool ok = ::fchmod(fd, 0600) == 0;
        const int e = errno;
        ::close(fd);
        if (!ok) throw DbError(fs_error_text("cannot set mode 0600 on", path, e));
    } else if (errno != EEXIST) {
        throw DbError(fs_error_text("cannot create", path, errno));
    } else if (::access(path.c_str(), W_OK) != 0) {
        throw DbError(fs_error_text("cannot open for writing", path, errno));
    } else if (struct stat st{}; ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 004)) {
        spdlog::warn("database {} may be read by any user (mode {:o}); fix with: chmod 600 {}", path, st.st_mode & 0777,
                     path + "*");
    }
    const auto dir = std::filesystem::path(path).parent_path();
    const std::string d = dir.empty() ? "." : dir.string();
    if (::access(d.c_str(), W_OK) != 0 && (errno == EROFS || errno == EACCES))
        throw DbError(fs_error_text("cannot create", path + "-wal", errno) +
                      " (SQLite keeps its journal beside the file)");
}

class SqliteStmt final : public StmtImpl {
public:
    SqliteStmt(sqlite3* db, std::string_view sql) : db_(db) {
        if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &st_, nullptr) != SQLITE_OK)
            fail(db, "preparing \"" + std::string(sql.substr(0, 60)) + "\"");
    }
    ~SqliteStmt() override { sqlite3_finalize(st_); }

    void bind_int(int i, std::int64_t v) override {
        if (sqlite3_bind_int64(st_, i, v) != SQLITE_OK) fail(db_, "bind");
    }
    void bind_text(int i, std::string_view v) override {
        if (sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) != SQLITE_OK)
            fail(db_, "bind");
    }
    void bind_blob(int i, const void* data, std::size_t size) override {
        if (sqlite3_bind_blob(st_, i, data, static_cast<int>(size), SQLITE_TRANSIENT) != SQLITE_OK) fail(db_, "bind");
    }
    void bind_null(int i) override {
        if (sqlite3_bind_null(st_, i) != SQLITE_OK) fail(db_, "bind");
    }

    bool step() override {
        const int rc = sqlite3_step(st_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        const std::string sql = sqlite3_sql(st_) ? sqlite3_sql(st_) : "";
        sqlite3_reset(st_);
        fail(db_, "running \"" + sql.substr(0, 60) + "\"");
    }
    void reset() override {
        sqlite3_reset(st_);
        sqlite3_clear_bindings(st_);
    }

    std::int64_t int64(int col) const override { return sqlite3_column_int64(st_, col); }
    std::string text(int col) const override {
        const auto* p = sqlite3_column_text(st_, col);
        return p ? std::string(reinterpret_cast<const char*>(p),
                               static_cast<std::size_t>(sqlite3_column_bytes(st_, col)))
                 : "";
    }
    std::vector<std::uint8_t> blob(int col) const override {
        const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(st_, col));
        return p ? std::vector<std::uint8_t>(p, p + sqlite3_column_bytes(st_, col)) : std::vector<std::uint8_t>{};
    }
    bool is_null(int col) const override { return sqlite3_column_type(st_, col) == SQLITE_NULL; }
    int column_count() const override { return sqlite3_column_count(st_); }
    std::string column_name(int col) const override {
        const char* n = sqlite3_column_name(st_, col);
        return n ? n : "";
    }

private:
    sqlite3* db_;
    sqlite3_stmt* st_ = nullptr;
};

class SqliteConn final : public Conn {
public:
    SqliteConn(const std::string& path, const Db::Options& opts) {
        const int flags =
            (opts.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
        if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
            const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
            const int err = db_ ? sqlite3_system_errno(db_) : 0;
            sqlite3_close(db_);
            db_ = nullptr;
            throw DbError(path + ": cannot open database: " + msg +
                          (err ? std::string(" (") + std::strerror(err) + ")" : ""));
        }
        sqlite3_extended_result_codes(db_, 1);
        sqlite3_busy_timeout(db_, static_cast<int>(opts.busy_timeout.count()));
    }
    ~SqliteConn() override { sqlite3_close(db_); }

    std::unique_ptr<StmtImpl> prepare(std::string_view sql) override { return std::make_unique<SqliteStmt>(db_, sql); }
    void exec(std::string_view sql) override {
        char* err = nullptr;
        const std::string s(sql);
        if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
            std::string msg = err ? err : sqlite3_errmsg(db_);
            sqlite3_free(err);
            throw_error(db_, msg);
        }
    }
    std::int64_t last_insert_id() const override { return sqlite3_last_insert_rowid(db_); }
    int changes() const override { return sqlite3_changes(db_); }
    void set_busy_timeout(std::chrono::milliseconds t) override {
        sqlite3_busy_timeout(db_, static_cast<int>(t.count()));
    }
    int schema_version() override { return static_cast<int>(scalar("PRAGMA user_version")); }
    void set_schema_version(int v) override { exec("PRAGMA user_version = " + std::to_string(v)); }
    bool has_tables() override { return scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table'") > 0; }
    std::int64_t data_version() override { return scalar("PRAGMA data_version"); }
    void begin_write() override { exec("BEGIN IMMEDIATE"); }
    void configure(const Db::Options& opts) override {
        exec("PRAGMA foreign_keys = ON");
        if (opts.read_only) return;
        if (opts.wal) exec("PRAGMA journal_mode = WAL");
        exec("PRAGMA synchronous = NORMAL");
        exec("PRAGMA wal_autocheckpoint = " + std::to_string(opts.wal_autocheckpoint));
    }
    Db::Dialect dialect() const override { return Db::Dialect::sqlite; }

private:
    std::int64_t scalar(const char* sql) {
        SqliteStmt st(db_, sql);
        st.step();
        return st.int64(0);
    }

    sqlite3* db_ = nullptr;
};

}  // namespace

std::unique_ptr<StmtImpl> sqlite_stmt(sqlite3* db, std::string_view sql) {
    return std::make_unique<SqliteStmt>(db, sql);
}

std::unique_ptr<Conn> open_sqlite(const std::string& path, const Db::Options& opts) {
    // ":memory:" is SQLite's name for a database without a file: nothing to create or check.
    if (!opts.read_only && path != ":memory:") {
        try {
            make_private_dirs(path);  // 0700: the file holds every key of the tailnet
        } catch (const FileError& e) {
            throw DbError(e.what());
        }
        prepare_writable(path);
    }
    return std::make_unique<SqliteConn>(path, opts);
}

}  // namespace hs::db_detail
