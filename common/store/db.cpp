#include "common/store/db.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "common/base/files.h"

namespace hs {

namespace db_detail {
struct Migration {
    int version;
    const char* sql;
};
const std::vector<Migration>& migrations();
}  // namespace db_detail

namespace {

// SQLITE_BUSY after the busy timeout means another process kept the write lock too long;
// say so, since "database is locked" alone reads like a permanent fault.
std::string busy_hint(sqlite3* db) {
    if (!db || (sqlite3_extended_errcode(db) & 0xff) != SQLITE_BUSY) return "";
    return " (another process held a write transaction longer than the busy timeout; nothing was changed, try again)";
}

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
    throw DbError(what + ": " + (db ? sqlite3_errmsg(db) : "out of memory") + busy_hint(db));
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

}  // namespace

Stmt::Stmt(sqlite3* db, std::string_view sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &st_, nullptr) != SQLITE_OK)
        fail(db, "preparing \"" + std::string(sql.substr(0, 60)) + "\"");
}

Stmt::~Stmt() { sqlite3_finalize(st_); }

Stmt::Stmt(Stmt&& o) noexcept : db_(o.db_), st_(o.st_) { o.st_ = nullptr; }

Stmt& Stmt::bind(int i, std::int64_t v) {
    if (sqlite3_bind_int64(st_, i, v) != SQLITE_OK) fail(db_, "bind");
    return *this;
}

Stmt& Stmt::bind(int i, std::string_view v) {
    if (sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) != SQLITE_OK)
        fail(db_, "bind");
    return *this;
}

Stmt& Stmt::bind(int i, const std::optional<std::string>& v) {
    return v ? bind(i, std::string_view(*v)) : bind_null(i);
}

Stmt& Stmt::bind_blob(int i, const void* data, std::size_t size) {
    if (sqlite3_bind_blob(st_, i, data, static_cast<int>(size), SQLITE_TRANSIENT) != SQLITE_OK) fail(db_, "bind");
    return *this;
}

Stmt& Stmt::bind_null(int i) {
    if (sqlite3_bind_null(st_, i) != SQLITE_OK) fail(db_, "bind");
    return *this;
}

bool Stmt::step() {
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    const std::string sql = sqlite3_sql(st_) ? sqlite3_sql(st_) : "";
    sqlite3_reset(st_);
    fail(db_, "running \"" + sql.substr(0, 60) + "\"");
}

void Stmt::run() {
    while (step()) {}
    reset();
}

void Stmt::reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
}

std::int64_t Stmt::int64(int col) const { return sqlite3_column_int64(st_, col); }

std::string Stmt::text(int col) const {
    const auto* p = sqlite3_column_text(st_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(st_, col)))
             : "";
}

std::optional<std::string> Stmt::opt_text(int col) const {
    if (is_null(col)) return std::nullopt;
    return text(col);
}

std::vector<std::uint8_t> Stmt::blob(int col) const {
    const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(st_, col));
    return p ? std::vector<std::uint8_t>(p, p + sqlite3_column_bytes(st_, col)) : std::vector<std::uint8_t>{};
}

bool Stmt::is_null(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }

int Stmt::column_count() const { return sqlite3_column_count(st_); }

std::string Stmt::column_name(int col) const {
    const char* n = sqlite3_column_name(st_, col);
    return n ? n : "";
}

Db::Db(const std::string& path, const Options& opts) : path_(path) {
    // ":memory:" is SQLite's name for a database without a file: nothing to create or check.
    if (!opts.read_only && path != ":memory:") {
        try {
            make_private_dirs(path);  // 0700: the file holds every key of the tailnet
        } catch (const FileError& e) {
            throw DbError(e.what());
        }
        prepare_writable(path);
    }
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
    try {
        // Read the version before anything that writes, so a newer or foreign file stays untouched.
        const int version = schema_version();
        if (version > kSchemaVersion)
            throw DbError(path + ": database schema version " + std::to_string(version) +
                          " is newer than this hs supports (" + std::to_string(kSchemaVersion) +
                          "); upgrade hs. The file was not modified.");
        if (version == 0) {
            Stmt st(db_, "SELECT count(*) FROM sqlite_master WHERE type = 'table'");
            st.step();
            if (st.int64(0) > 0)
                throw DbError(path +
                              ": not an hs database (it has tables but no hs schema version; a headscale "
                              "database is imported with: hs-admin import headscale FILE). The file was not "
                              "modified.");
        }
        exec("PRAGMA foreign_keys = ON");
        if (opts.read_only) {
            if (version != kSchemaVersion && !(opts.any_older_version && version > 0))
                throw DbError(path + ": database schema version " + std::to_string(version) + ", expected " +
                              std::to_string(kSchemaVersion) + "; start hs-control or run hs-admin once to migrate it");
            return;
        }
        if (opts.wal) exec("PRAGMA journal_mode = WAL");
        exec("PRAGMA synchronous = NORMAL");
        exec("PRAGMA wal_autocheckpoint = " + std::to_string(opts.wal_autocheckpoint));
        migrate();
    } catch (const DbError& e) {
        sqlite3_close(db_);
        db_ = nullptr;
        const std::string msg = e.what();
        throw DbError(msg.rfind(path, 0) == 0 ? msg : path + ": " + msg);
    }
}

Db::~Db() { sqlite3_close(db_); }

void Db::exec(std::string_view sql) {
    char* err = nullptr;
    const std::string s(sql);
    if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errmsg(db_);
        sqlite3_free(err);
        throw DbError(msg + busy_hint(db_));
    }
}

void Db::set_busy_timeout(std::chrono::milliseconds t) { sqlite3_busy_timeout(db_, static_cast<int>(t.count())); }

std::int64_t Db::last_insert_id() const { return sqlite3_last_insert_rowid(db_); }
int Db::changes() const { return sqlite3_changes(db_); }

int Db::schema_version() {
    Stmt st(db_, "PRAGMA user_version");
    st.step();
    return static_cast<int>(st.int64(0));
}

std::int64_t Db::data_version() {
    Stmt st(db_, "PRAGMA data_version");
    st.step();
    return st.int64(0);
}

void Db::migrate() {
    for (const auto& m : db_detail::migrations()) {
        if (m.version <= schema_version()) continue;
        Tx tx(*this);
        // Another process may have migrated while we waited for the write lock.
        if (m.version <= schema_version()) continue;
        try {
            exec(m.sql);
        } catch (const DbError& e) {
            throw DbError("migration to schema version " + std::to_string(m.version) + " failed: " + e.what());
        }
        exec("PRAGMA user_version = " + std::to_string(m.version));
        tx.commit();
    }
}

Db::Tx::Tx(Db& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Db::Tx::~Tx() {
    if (!done_) {
        try {
            db_.exec("ROLLBACK");
        } catch (...) {}
    }
}

void Db::Tx::commit() {
    db_.exec("COMMIT");
    done_ = true;
}

}  // namespace hs
