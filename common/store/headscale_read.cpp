// Reads a headscale SQLite file without changing it: opened read-only (SQLite's mode=ro), all
// tables read inside one read transaction so the rows agree with each other.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/store/db_backend.h"
#include "common/store/headscale_import.h"

namespace hs::store {
namespace {

// The pid of another process holding a lock on bytes [start, start+len) of `file`, or 0.
// F_GETLK never reports this process's own locks, so it is asked before SQLite opens the file.
pid_t lock_holder(const std::string& file, off_t start, off_t len) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    const int rc = ::fcntl(fd, F_GETLK, &fl);
    ::close(fd);
    return rc == 0 && fl.l_type != F_UNLCK ? fl.l_pid : 0;
}

// A running headscale keeps its database open. In WAL mode (headscale's default since 0.23)
// every open connection holds a read lock on the "DMS" byte of the -shm file (SQLite's
// os_unix.c: offset 120 + 8 = 128); in rollback mode a transaction locks the main file from
// its pending byte (0x40000000, 512 bytes).
void refuse_if_in_use(const std::string& path) {
    pid_t pid = lock_holder(path + "-shm", 128, 1);
    if (!pid) pid = lock_holder(path, 0x40000000, 512);
    if (pid)
        throw ImportError(path + ": the headscale database is open in process " + std::to_string(pid) +
                          " (headscale still running?); stop headscale first so nothing it writes after the import "
                          "is lost" +
                          kNothingImported);
}

class Source {
public:
    explicit Source(const std::string& path) : path_(path) {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0)
            throw ImportError(path + ": cannot read the headscale database: " + std::strerror(errno) +
                              kNothingImported);
        if (!S_ISREG(st.st_mode)) throw ImportError(path + ": not a regular file" + kNothingImported);
        const std::string uri = "file:" + uri_path(path) + "?mode=ro";
        if (sqlite3_open_v2(uri.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr) !=
            SQLITE_OK) {
            const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
            throw ImportError(path + ": cannot open the headscale database: " + msg + kNothingImported);
        }
        sqlite3_extended_result_codes(db_, 1);
        sqlite3_busy_timeout(db_, 2000);
    }
    ~Source() {
        if (db_) {
            sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
            sqlite3_close(db_);
        }
    }
    Source(const Source&) = delete;
    Source& operator=(const Source&) = delete;

    // Any SQLite failure becomes an ImportError that says what it likely means.
    template <typename F>
    auto guarded(F&& f) {
        try {
            return f();
        } catch (const DbError& e) {
            const int code = sqlite3_extended_errcode(db_) & 0xff;
            if (code == SQLITE_NOTADB)
                throw ImportError(path_ + ": not an SQLite database (is it headscale's db.sqlite?)" + kNothingImported);
            if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
                throw ImportError(path_ +
                                  ": the headscale database is locked by another process (headscale still "
                                  "running?); stop it first" +
                                  kNothingImported);
            throw ImportError(path_ + ": reading the headscale database failed: " + e.what() + kNothingImported);
        }
    }

    void begin() { stmt("BEGIN").run(); }

    bool has_table(const std::string& name) {
        auto st = stmt("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
        st.bind(1, name);
        return st.step();
    }

    // Every row, every column by name; table names come from a fixed list, never from input.
    std::vector<HeadscaleRow> rows(const std::string& table) {
        auto st = stmt("SELECT * FROM \"" + table + "\" ORDER BY rowid");
        std::vector<HeadscaleRow> out;
        while (st.step()) {
            HeadscaleRow row;
            for (int i = 0; i < st.column_count(); ++i) row[st.column_name(i)] = st.opt_text(i);
            out.push_back(std::move(row));
        }
        return out;
    }

    std::vector<std::string> column(const std::string& sql) {
        auto st = stmt(sql);
        std::vector<std::string> out;
        while (st.step()) out.push_back(st.text(0));
        return out;
    }

private:
    Stmt stmt(const std::string& sql) { return Stmt(db_detail::sqlite_stmt(db_, sql)); }

    // Characters SQLite's URI parser would take for syntax are percent-encoded.
    static std::string uri_path(const std::string& p) {
        std::string out;
        for (char ch : p) {
            if (ch == '?' || ch == '#' || ch == '%') {
                char buf[4];
                std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(ch));
                out += buf;
            } else {
                out += ch;
            }
        }
        return out;
    }

    sqlite3* db_ = nullptr;
    std::string path_;
};

}  // namespace

HeadscaleTables read_headscale_db(const std::string& path) {
    refuse_if_in_use(path);
    Source src(path);
    return src.guarded([&] {
        src.begin();
        if (!src.has_table("users") || !src.has_table("nodes"))
            throw ImportError(path + ": an SQLite database, but not headscale's (it has no users and nodes tables)" +
                              kNothingImported);
        HeadscaleTables t;
        t.has_migrations_table = src.has_table("migrations");
        if (t.has_migrations_table) t.migrations = src.column("SELECT id FROM migrations");
        if (src.has_table("database_versions")) {
            const auto v = src.column("SELECT version FROM database_versions WHERE id = 1");
            if (!v.empty()) t.database_version = v.front();
        }
        for (const char* name : {"users", "nodes", "pre_auth_keys", "api_keys", "policies", "routes"})
            if (src.has_table(name)) t.tables[name] = src.rows(name);
        return t;
    });
}

}  // namespace hs::store
