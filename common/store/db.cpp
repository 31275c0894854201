// Db and Stmt over either engine (db_backend.h): the version check and migrations are the same
// code for both, so the two stay at the same schema version numbers.
#include "common/store/db.h"

#include "common/store/db_backend.h"

namespace hs {

Stmt::Stmt(std::unique_ptr<db_detail::StmtImpl> impl) : st_(std::move(impl)) {}
Stmt::~Stmt() = default;
Stmt::Stmt(Stmt&& o) noexcept = default;

Stmt& Stmt::bind(int i, std::int64_t v) {
    st_->bind_int(i, v);
    return *this;
}

Stmt& Stmt::bind(int i, std::string_view v) {
    st_->bind_text(i, v);
    return *this;
}

Stmt& Stmt::bind(int i, const std::optional<std::string>& v) {
    return v ? bind(i, std::string_view(*v)) : bind_null(i);
}

Stmt& Stmt::bind_blob(int i, const void* data, std::size_t size) {
    st_->bind_blob(i, data, size);
    return *this;
}

Stmt& Stmt::bind_null(int i) {
    st_->bind_null(i);
    return *this;
}

bool Stmt::step() { return st_->step(); }

void Stmt::run() {
    while (step()) {}
    reset();
}

void Stmt::reset() { st_->reset(); }
std::int64_t Stmt::int64(int col) const { return st_->int64(col); }
std::string Stmt::text(int col) const { return st_->text(col); }

std::optional<std::string> Stmt::opt_text(int col) const {
    if (is_null(col)) return std::nullopt;
    return text(col);
}

std::vector<std::uint8_t> Stmt::blob(int col) const { return st_->blob(col); }
bool Stmt::is_null(int col) const { return st_->is_null(col); }
int Stmt::column_count() const { return st_->column_count(); }
std::string Stmt::column_name(int col) const { return st_->column_name(col); }

Db::Db(const std::string& path, const Options& opts) : path_(path) {
    conn_ = opts.postgres.empty() ? db_detail::open_sqlite(path, opts) : db_detail::open_pg(path, opts);
    try {
        check_version(opts);
        conn_->configure(opts);
        if (!opts.read_only) migrate();
    } catch (const DbError& e) {
        conn_.reset();
        const std::string msg = e.what();
        throw DbError(msg.rfind(path, 0) == 0 ? msg : path + ": " + msg);
    }
}

// Reads the version before anything that writes, so a newer or foreign database stays untouched.
void Db::check_version(const Options& opts) {
    const std::string what = postgres() ? "database" : "file";
    const int version = schema_version();
    if (version > kSchemaVersion)
        throw DbError(path_ + ": database schema version " + std::to_string(version) +
                      " is newer than this hs supports (" + std::to_string(kSchemaVersion) + "); upgrade hs. The " +
                      what + " was not modified.");
    if (version == 0 && conn_->has_tables())
        throw DbError(path_ +
                      ": not an hs database (it has tables but no hs schema version; a headscale "
                      "database is imported with: hs-admin import headscale FILE). The " +
                      what + " was not modified.");
    // An empty PostgreSQL database is what an admin creates for hs: a look at it is no error.
    const bool older_ok = opts.any_older_version && (version > 0 || postgres());
    if (opts.read_only && version != kSchemaVersion && !older_ok)
        throw DbError(path_ + ": database schema version " + std::to_string(version) + ", expected " +
                      std::to_string(kSchemaVersion) + "; start hs-control or run hs-admin once to migrate it");
}

Db::~Db() = default;

Db::Dialect Db::dialect() const { return conn_->dialect(); }
void Db::exec(std::string_view sql) { conn_->exec(sql); }
Stmt Db::prepare(std::string_view sql) { return Stmt(conn_->prepare(sql)); }
void Db::set_busy_timeout(std::chrono::milliseconds t) { conn_->set_busy_timeout(t); }
std::int64_t Db::last_insert_id() const { return conn_->last_insert_id(); }
int Db::changes() const { return conn_->changes(); }
int Db::schema_version() { return conn_->schema_version(); }
std::int64_t Db::data_version() { return conn_->data_version(); }
bool Db::try_session_lock(std::int64_t key) { return conn_->try_session_lock(key, false); }
bool Db::try_session_lock_shared(std::int64_t key) { return conn_->try_session_lock(key, true); }
bool Db::hold_duty_lock(std::int64_t key) { return conn_->hold_duty_lock(key); }
std::uint64_t Db::session_generation() const { return conn_->session_generation(); }
bool Db::lock_lost() const { return conn_->lock_lost(); }

void Db::migrate() {
    const bool pg = postgres();
    for (const auto& m : db_detail::migrations()) {
        if (m.version <= schema_version()) continue;
        Tx tx(*this);
        // Another process may have migrated while we waited for the write lock.
        if (m.version <= schema_version()) continue;
        try {
            exec(!pg ? std::string(m.sql) : m.pg ? std::string(m.pg) : db_detail::pg_types(m.sql));
        } catch (const DbError& e) {
            throw DbError("migration to schema version " + std::to_string(m.version) + " failed: " + e.what());
        }
        conn_->set_schema_version(m.version);
        tx.commit();
    }
}

Db::Tx::Tx(Db& db) : db_(db) { db_.conn_->begin_write(); }

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
