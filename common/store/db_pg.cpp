// The PostgreSQL engine behind Db, through libpq. Callers' SQL is SQLite's where the two agree
// (the store writes portable SQL); what differs is handled here: ? parameters become $1..$n,
// an INSERT into a table with an identity column returns the new id (last_insert_id), the schema
// version lives in a table, writers serialize on an advisory lock as SQLite's BEGIN IMMEDIATE
// serializes them, and data_version counts NOTIFYs from other sessions (schema.cpp's triggers
// send one when change_log or audit_log gets rows).
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/store/db_backend.h"

namespace hs::db_detail {
namespace {

// pg_advisory_xact_lock key every hs write transaction takes ("hs-write").
constexpr const char* kWriteLock = "7521969672384259173";
constexpr Oid kBoolOid = 16, kByteaOid = 17;

struct ResultClear {
    void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultClear>;

// libpq's messages end in a newline and may add DETAIL/HINT lines; the first line says it.
std::string first_line(const char* msg) {
    std::string s = msg ? msg : "";
    if (const auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
    return s.empty() ? "unknown error" : s;
}

// SQLSTATE 55P03, lock_not_available: a lock wait ran past lock_timeout (Db::set_busy_timeout).
bool lock_timed_out(const PGresult* r) {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    return state && std::strcmp(state, "55P03") == 0;
}

// A lock wait that ran past lock_timeout, said as SQLite's busy is.
std::string error_text(const PGresult* r, PGconn* c) {
    std::string msg = first_line(r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    if (lock_timed_out(r))
        msg +=
            " (another process held a write transaction longer than the busy timeout; nothing was changed, "
            "try again)";
    return msg;
}

// "?" -> "$1", "$2", ... and SQLite's "?NNN" -> "$NNN", outside quoted strings and identifiers.
// `count` is the highest number used.
std::string number_parameters(std::string_view sql, int& count) {
    std::string out;
    char quote = 0;
    int next = 0;
    count = 0;
    for (std::size_t i = 0; i < sql.size(); ++i) {
        const char ch = sql[i];
        if (quote) {
            if (ch == quote) quote = 0;
        } else if (ch == '\'' || ch == '"') {
            quote = ch;
        } else if (ch == '?') {
            std::size_t j = i + 1;
            while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') ++j;
            const int n = j > i + 1 ? std::atoi(std::string(sql.substr(i + 1, j - i - 1)).c_str()) : ++next;
            next = std::max(next, n);
            count = std::max(count, n);
            out += "$" + std::to_string(n);
            i = j - 1;
            continue;
        }
        out += ch;
    }
    return out;
}

// Tables whose id is an identity column: an INSERT into one reports the new id, as SQLite's
// last_insert_rowid does. (lastval() would give change_log's, written by a trigger.)
bool returns_id(const std::string& sql) {
    static const std::regex insert(R"(^\s*INSERT\s+INTO\s+(\w+))", std::regex::icase);
    static const std::set<std::string> tables = {"users",    "pre_auth_keys", "api_keys",       "nodes",
                                                 "policies", "audit_log",     "recovery_codes", "change_log"};
    std::smatch m;
    return std::regex_search(sql, m, insert) && tables.count(m[1].str()) && sql.find("RETURNING") == std::string::npos;
}

class PgConn;

class PgStmt final : public StmtImpl {
public:
    PgStmt(PgConn& conn, std::string_view sql);

    void bind_int(int i, std::int64_t v) override { set(i, std::to_string(v), 0); }
    void bind_text(int i, std::string_view v) override { set(i, std::string(v), 0); }
    void bind_blob(int i, const void* data, std::size_t size) override {
        set(i, std::string(static_cast<const char*>(data), size), kByteaOid);
    }
    void bind_null(int i) override {
        if (i >= 1 && i <= count_) params_[static_cast<std::size_t>(i - 1)].reset();
    }
    bool step() override;
    void reset() override {
        result_.reset();
        row_ = -1;
        for (auto& p : params_) p.reset();
    }

    std::int64_t int64(int col) const override {
        if (is_null(col)) return 0;
        const char* v = PQgetvalue(result_.get(), row_, col);
        if (PQftype(result_.get(), col) == kBoolOid) return v[0] == 't' ? 1 : 0;
        return std::strtoll(v, nullptr, 10);
    }
    std::string text(int col) const override {
        if (is_null(col)) return "";
        if (PQftype(result_.get(), col) == kByteaOid) {
            const auto b = blob(col);
            return {b.begin(), b.end()};
        }
        return {PQgetvalue(result_.get(), row_, col), static_cast<std::size_t>(PQgetlength(result_.get(), row_, col))};
    }
    std::vector<std::uint8_t> blob(int col) const override {
        if (is_null(col)) return {};
        const auto* v = reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row_, col));
        if (PQftype(result_.get(), col) != kByteaOid) return {v, v + PQgetlength(result_.get(), row_, col)};
        std::size_t n = 0;
        unsigned char* raw = PQunescapeBytea(v, &n);
        if (!raw) throw DbError("out of memory decoding bytea");
        std::vector<std::uint8_t> out(raw, raw + n);
        PQfreemem(raw);
        return out;
    }
    bool is_null(int col) const override { return !result_ || row_ < 0 || PQgetisnull(result_.get(), row_, col); }
    int column_count() const override { return result_ ? PQnfields(result_.get()) : 0; }
    std::string column_name(int col) const override {
        const char* n = result_ ? PQfname(result_.get(), col) : nullptr;
        return n ? n : "";
    }

private:
    void set(int i, std::string v, Oid type) {
        if (i < 1 || i > count_) throw DbError("bind: no parameter " + std::to_string(i));
        params_[static_cast<std::size_t>(i - 1)] = std::move(v);
        types_[static_cast<std::size_t>(i - 1)] = type;
    }

    PgConn& conn_;
    std::string sql_;
    int count_ = 0;
    bool returning_id_ = false;
    std::vector<std::optional<std::string>> params_;
    std::vector<Oid> types_;
    Result result_;
    int row_ = -1;
};

class PgConn final : public Conn {
public:
    PgConn(const std::string& name, const Db::Options& opts)
        : name_(name), read_only_(opts.read_only), busy_(opts.busy_timeout) {
        conn_ = PQconnectdb(opts.postgres.c_str());
        if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
            const std::string why = first_line(conn_ ? PQerrorMessage(conn_) : "out of memory");
            PQfinish(conn_);
            conn_ = nullptr;
            throw DbError(name + ": cannot connect to PostgreSQL: " + why);
        }
        setup();
    }
    ~PgConn() override { PQfinish(conn_); }

    std::unique_ptr<StmtImpl> prepare(std::string_view sql) override { return std::make_unique<PgStmt>(*this, sql); }

    // Several statements at once (migrations), no parameters.
    void exec(std::string_view sql) override {
        const bool ends_tx = sql == "COMMIT" || sql == "ROLLBACK";
        // The server rolled the transaction back when the connection ended.
        if (sql == "ROLLBACK" && in_tx_ && PQstatus(conn_) != CONNECTION_OK) {
            in_tx_ = false;
            return;
        }
        ensure_connected();
        Result r(PQexec(conn_, std::string(sql).c_str()));
        if (ends_tx) in_tx_ = false;  // a failed COMMIT ends the transaction too
        check(r, sql);
        // A statement that failed inside the transaction aborted it, and PostgreSQL answers the
        // COMMIT with a ROLLBACK, as success: the caller must not think its writes landed.
        if (sql == "COMMIT" && std::strcmp(PQcmdStatus(r.get()), "ROLLBACK") == 0)
            throw DbError(name_ +
                          ": the transaction was rolled back (a statement in it had failed); nothing was changed");
        changes_ = std::atoi(PQcmdTuples(r.get()));
    }

    Result run(const std::string& sql, const std::vector<std::optional<std::string>>& params,
               const std::vector<Oid>& types) {
        ensure_connected();
        std::vector<const char*> values;
        std::vector<int> lengths, formats;
        for (std::size_t i = 0; i < params.size(); ++i) {
            values.push_back(params[i] ? params[i]->data() : nullptr);
            lengths.push_back(params[i] ? static_cast<int>(params[i]->size()) : 0);
            formats.push_back(types[i] == kByteaOid ? 1 : 0);  // bytea goes as raw bytes
        }
        Result r(PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), types.data(), values.data(),
                              lengths.data(), formats.data(), 0));
        check(r, sql);
        changes_ = std::atoi(PQcmdTuples(r.get()));
        return r;
    }

    void set_last_insert_id(std::int64_t id) { last_id_ = id; }
    std::int64_t last_insert_id() const override { return last_id_; }
    int changes() const override { return changes_; }
    void set_busy_timeout(std::chrono::milliseconds t) override {
        exec("SET lock_timeout = " + std::to_string(t.count()));
        busy_ = t;
    }
    int schema_version() override {
        if (scalar("SELECT to_regclass('hs_schema_version') IS NOT NULL") != "t") return 0;
        return std::atoi(scalar("SELECT coalesce(max(version), 0) FROM hs_schema_version").c_str());
    }
    void set_schema_version(int v) override {
        exec(
            "CREATE TABLE IF NOT EXISTS hs_schema_version (version BIGINT NOT NULL); DELETE FROM hs_schema_version; "
            "INSERT INTO hs_schema_version VALUES (" +
            std::to_string(v) + ")");
    }
    bool has_tables() override {
        return scalar("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()") != "0";
    }
    // One empty round trip, not only a look at the socket: the server sends the notifications
    // pending for this session before it says it is ready again, so a commit another session
    // finished before this call is always counted, as SQLite's PRAGMA data_version counts it.
    std::int64_t data_version() override {
        ensure_connected();
        Result r(PQexec(conn_, ""));
        drain();
        if (!r || PQresultStatus(r.get()) != PGRES_EMPTY_QUERY)
            throw DbError(name_ + ": " + error_text(r.get(), conn_));
        return notified_;
    }
    bool try_session_lock(std::int64_t key, bool shared) override {
        if (!take_lock(key, shared)) return false;
        session_locks_.push_back({key, shared});
        return true;
    }
    bool hold_duty_lock(std::int64_t key) override {
        if (duty_locks_.count(key)) {
            ensure_connected();  // a lost connection took the lock with it
            if (duty_locks_.count(key)) return true;
        }
        if (!take_lock(key, false)) return false;
        duty_locks_.insert(key);
        return true;
    }
    std::uint64_t session_generation() const override { return generation_; }
    bool lock_lost() const override { return lock_lost_; }
    void begin_write() override {
        // PostgreSQL only warns about a BEGIN inside a transaction, and the inner commit would
        // commit the outer one: refuse it as SQLite does.
        if (in_tx_) throw DbError(name_ + ": a transaction is already open on this connection");
        exec("BEGIN");
        in_tx_ = true;
        try {
            exec(std::string("SELECT pg_advisory_xact_lock(") + kWriteLock + ")");
        } catch (...) {
            exec("ROLLBACK");
            throw;
        }
    }
    void configure(const Db::Options&) override {}  // setup() did it
    Db::Dialect dialect() const override { return Db::Dialect::postgres; }

private:
    void check(const Result& r, std::string_view sql) {
        drain();
        const auto st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return;
        const auto msg = "running \"" + std::string(sql.substr(0, 60)) + "\": " + error_text(r.get(), conn_);
        if (lock_timed_out(r.get())) throw DbBusy(msg);
        throw DbError(msg);
    }
    // Counts other sessions' notifications; our own commits do not move data_version, as in
    // SQLite. Called after every query too, so libpq's queue never grows on a connection that
    // never asks.
    void drain() {
        while (PGnotify* n = PQnotifies(conn_)) {
            if (n->be_pid != PQbackendPID(conn_)) ++notified_;
            PQfreemem(n);
        }
    }
    std::string scalar(const std::string& sql) {
        ensure_connected();
        Result r(PQexec(conn_, sql.c_str()));
        check(r, sql);
        return PQntuples(r.get()) > 0 && !PQgetisnull(r.get(), 0, 0) ? PQgetvalue(r.get(), 0, 0) : "";
    }

    // The session's settings, at connect and again after a reconnect.
    void setup() {
        exec("SET client_min_messages = warning");  // no NOTICE lines on stderr from IF NOT EXISTS
        exec("SET lock_timeout = " + std::to_string(busy_.count()));
        // The server's side of a connection whose client vanished without a reset (a host gone,
        // a cut): the session, and the advisory locks it holds (a slot, a duty), end within
        // about 25 s instead of the operating system's two hours. tcp_user_timeout is
        // PostgreSQL 12's. Nothing changes on a Unix socket.
        exec("SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3");
        exec(
            "SELECT set_config('tcp_user_timeout', '5000', false) WHERE current_setting('server_version_num')::int "
            ">= 120000");
        exec("LISTEN hs_changes");
        if (read_only_) exec("SET default_transaction_read_only = on");
        pid_ = PQbackendPID(conn_);
        started_ = scalar("SELECT backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()");
    }
    // After a cut that sent no reset, the server may still hold this process's previous session,
    // and with it the locks this one needs back. That session, and no other (its pid and start
    // time both match), is ended. True when the server ended it.
    bool end_previous_session() {
        using namespace std::chrono_literals;
        if (!prev_pid_ || prev_started_.empty()) return false;
        const auto pid = std::to_string(prev_pid_);
        prev_pid_ = 0;
        if (scalar("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = " + pid +
                   " AND backend_start::text = '" + prev_started_ + "'") != "t")
            return false;
        spdlog::warn("{}: ended this process's previous session (backend pid {}), which the server still held", name_,
                     pid);
        // Its locks go when the backend has exited, a moment after the signal.
        for (int i = 0; i < 20 && scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid) != "0"; ++i)
            std::this_thread::sleep_for(25ms);
        return true;
    }
    bool take_lock(std::int64_t key, bool shared) {
        return scalar(std::string("SELECT pg_try_advisory_lock") + (shared ? "_shared(" : "(") + std::to_string(key) +
                      ")") == "t";
    }
    void ensure_connected();

    std::string name_;
    bool read_only_;
    std::chrono::milliseconds busy_;
    PGconn* conn_ = nullptr;
    bool in_tx_ = false;
    // Reconnecting: a libpq reset in progress, advanced without blocking.
    bool resetting_ = false;
    PostgresPollingStatusType poll_ = PGRES_POLLING_WRITING;
    std::chrono::steady_clock::time_point reset_started_, next_reset_;
    std::vector<std::pair<std::int64_t, bool>> session_locks_;  // key, shared
    std::set<std::int64_t> duty_locks_;
    std::uint64_t generation_ = 0;
    bool lock_lost_ = false;
    int pid_ = 0, prev_pid_ = 0;  // the session's backend, and the one before the last reconnect
    std::string started_, prev_started_;
    std::int64_t last_id_ = 0;
    int changes_ = 0;
    std::int64_t notified_ = 0;
};

// After the server went away (a restart, a failover, a network cut): statements fail until a
// new connection is up, which is made in steps as the socket becomes ready so that a server
// that does not answer never holds up the caller (hs-control's event loop); attempts are a
// second apart. The new session gets the settings, the LISTEN and the session locks back,
// and data_version moves: notifications sent meanwhile are lost, so readers look again.
void PgConn::ensure_connected() {
    using namespace std::chrono_literals;
    if (lock_lost_)
        throw DbError(name_ + ": after reconnecting, another hs-control held a lock this one had held (its " +
                      "instance slot); this one no longer uses the database (restart it)");
    if (PQstatus(conn_) == CONNECTION_OK && !resetting_) return;
    if (in_tx_) throw DbError(name_ + ": the connection to PostgreSQL was lost; the transaction was not committed");
    const auto now = std::chrono::steady_clock::now();
    if (!resetting_) {
        if (now < next_reset_) throw DbError(name_ + ": the connection to PostgreSQL was lost; reconnecting");
        next_reset_ = now + 1s;
        prev_pid_ = pid_;
        prev_started_ = started_;
        if (!PQresetStart(conn_))
            throw DbError(name_ + ": reconnecting to PostgreSQL failed: " + first_line(PQerrorMessage(conn_)));
        resetting_ = true;
        reset_started_ = now;
        poll_ = PGRES_POLLING_WRITING;  // libpq's protocol: start as if the socket were asked to write
    }
    while (poll_ != PGRES_POLLING_OK) {
        if (poll_ == PGRES_POLLING_FAILED || now - reset_started_ > 10s) {
            resetting_ = false;
            throw DbError(name_ + ": reconnecting to PostgreSQL failed: " +
                          (poll_ == PGRES_POLLING_FAILED ? first_line(PQerrorMessage(conn_)) : "timed out"));
        }
        pollfd p{PQsocket(conn_), static_cast<short>(poll_ == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
        if (p.fd < 0 || ::poll(&p, 1, 0) <= 0)
            throw DbError(name_ + ": the connection to PostgreSQL was lost; reconnecting");
        poll_ = PQresetPoll(conn_);
    }
    resetting_ = false;
    duty_locks_.clear();  // ended with the old session; hold_duty_lock competes for them again
    ++generation_;
    setup();
    for (const auto& [key, shared] : session_locks_) {
        if (take_lock(key, shared) || (end_previous_session() && take_lock(key, shared))) continue;
        lock_lost_ = true;
        ensure_connected();  // throws the message above
    }
    ++notified_;
    spdlog::warn("{}: reconnected to PostgreSQL", name_);
}

PgStmt::PgStmt(PgConn& conn, std::string_view sql) : conn_(conn) {
    sql_ = number_parameters(sql, count_);
    returning_id_ = returns_id(sql_);
    if (returning_id_) sql_ += " RETURNING id";
    params_.resize(static_cast<std::size_t>(count_));
    types_.assign(static_cast<std::size_t>(count_), 0);
}

// Past the last row the statement starts over at the next step, keeping its parameters, as a
// SQLite statement does.
bool PgStmt::step() {
    if (!result_) {
        result_ = conn_.run(sql_, params_, types_);
        row_ = -1;
        if (returning_id_) {
            // The id this INSERT added is the statement's only output, as in SQLite.
            if (PQntuples(result_.get()) > 0)
                conn_.set_last_insert_id(std::strtoll(PQgetvalue(result_.get(), 0, 0), nullptr, 10));
            result_.reset();
            return false;
        }
    }
    if (row_ + 1 >= PQntuples(result_.get())) {
        result_.reset();
        row_ = -1;
        return false;
    }
    ++row_;
    return true;
}

}  // namespace

std::unique_ptr<Conn> open_pg(const std::string& name, const Db::Options& opts) {
    return std::make_unique<PgConn>(name, opts);
}

}  // namespace hs::db_detail
