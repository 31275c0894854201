// The attempt limiter's per-key state (schema 7), so lockouts survive a restart and an admin's
// unlock reaches a running hs-control.
#include "common/store/store.h"

namespace hs::store {
namespace {

constexpr const char* kColumns = "SELECT key, failures, window_start, lockouts, locked_until FROM signin_locks";

SigninLock read_lock(const Stmt& st) {
    SigninLock l;
    l.key = st.text(0);
    l.failures = static_cast<int>(st.int64(1));
    l.window_start = parse_time(st.text(2)).value_or(TimePoint{});
    l.lockouts = static_cast<int>(st.int64(3));
    if (auto u = st.opt_text(4)) l.locked_until = parse_time(*u);
    return l;
}

}  // namespace

std::optional<SigninLock> find_signin_lock(Db& db, std::string_view key) {
    auto st = db.prepare(std::string(kColumns) + " WHERE key = ?");
    st.bind(1, key);
    if (!st.step()) return std::nullopt;
    return read_lock(st);
}

void save_signin_lock(Db& db, const SigninLock& l, TimePoint now) {
    auto st = db.prepare(
        "INSERT INTO signin_locks(key, failures, window_start, lockouts, locked_until, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET failures = excluded.failures, "
        "window_start = excluded.window_start, lockouts = excluded.lockouts, locked_until = excluded.locked_until, "
        "updated_at = excluded.updated_at");
    st.bind(1, l.key).bind(2, std::int64_t{l.failures}).bind(3, format_time(l.window_start));
    st.bind(4, std::int64_t{l.lockouts});
    if (l.locked_until) st.bind(5, format_time(*l.locked_until));
    else st.bind_null(5);
    st.bind(6, format_time(now)).run();
}

bool delete_signin_lock(Db& db, std::string_view key) {
    db.prepare("DELETE FROM signin_locks WHERE key = ?").bind(1, key).run();
    return db.changes() > 0;
}

std::vector<SigninLock> list_signin_locks(Db& db) {
    auto st = db.prepare(std::string(kColumns) + " ORDER BY key");
    std::vector<SigninLock> out;
    while (st.step()) out.push_back(read_lock(st));
    return out;
}

std::int64_t count_signin_locked(Db& db, TimePoint now) {
    // RFC 3339 UTC text in one format sorts as time does.
    auto st = db.prepare("SELECT count(*) FROM signin_locks WHERE locked_until > ?");
    st.bind(1, format_time(now));
    st.step();
    return st.int64(0);
}

}  // namespace hs::store
