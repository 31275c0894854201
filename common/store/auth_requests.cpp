#include "common/base/random.h"
#include "common/store/store.h"

namespace hs::store {
namespace {

AuthRequest read_request(const Stmt& st) {
    AuthRequest r;
    r.id = st.text(0);
    r.machine_key = st.text(1);
    r.node_key = st.text(2);
    r.hostname = st.text(3);
    if (!st.is_null(4)) r.user_id = st.int64(4);
    r.status = st.text(5);
    r.created_at = parse_time(st.text(6)).value_or(TimePoint{});
    r.expires_at = parse_time(st.text(7)).value_or(TimePoint{});
    r.method = st.text(8);
    return r;
}

}  // namespace

AuthRequest create_auth_request(Db& db, const std::string& machine_key, const std::string& node_key,
                                const std::string& hostname, TimePoint expires_at) {
    const auto id = random_token(24);
    db.prepare(
          "INSERT INTO auth_requests(id, machine_key, node_key, hostname, created_at, expires_at) "
          "VALUES (?, ?, ?, ?, ?, ?)")
        .bind(1, id)
        .bind(2, machine_key)
        .bind(3, node_key)
        .bind(4, hostname)
        .bind(5, format_time(Clock::now()))
        .bind(6, format_time(expires_at))
        .run();
    return *find_auth_request(db, id);
}

std::optional<AuthRequest> find_auth_request(Db& db, std::string_view id) {
    auto st = db.prepare(
        "SELECT id, machine_key, node_key, hostname, user_id, status, created_at, expires_at, method "
        "FROM auth_requests WHERE id = ?");
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    return read_request(st);
}

void approve_auth_request(Db& db, std::string_view id, std::int64_t user_id, TimePoint now, const std::string& method) {
    Db::Tx tx(db);
    const auto r = find_auth_request(db, id);
    if (!r) throw NotFound("registration request \"" + std::string(id) + "\" not found (it may have expired)");
    if (r->status != "pending")
        throw StoreError("registration request \"" + std::string(id) + "\" was already " + r->status);
    if (r->expires_at <= now)
        throw StoreError("registration request \"" + std::string(id) + "\" has expired; run tailscale up again");
    if (!find_user(db, user_id)) throw NotFound("user " + std::to_string(user_id) + " not found");
    db.prepare("UPDATE auth_requests SET user_id = ?, status = 'approved', method = ? WHERE id = ?")
        .bind(1, user_id)
        .bind(2, method)
        .bind(3, id)
        .run();
    tx.commit();
}

AuthRequest reject_auth_request(Db& db, std::string_view id, TimePoint now) {
    Db::Tx tx(db);
    auto r = find_auth_request(db, id);
    if (!r) throw NotFound("registration request \"" + std::string(id) + "\" not found (it may have expired)");
    if (r->status != "pending")
        throw StoreError("registration request \"" + std::string(id) + "\" was already " + r->status);
    if (r->expires_at <= now) throw StoreError("registration request \"" + std::string(id) + "\" has expired");
    db.prepare("UPDATE auth_requests SET status = 'rejected', expires_at = ? WHERE id = ?")
        .bind(1, format_time(now))
        .bind(2, id)
        .run();
    tx.commit();
    r->status = "rejected";
    r->expires_at = now;
    return *r;
}

void set_auth_request_status(Db& db, std::string_view id, const std::string& status) {
    db.prepare("UPDATE auth_requests SET status = ? WHERE id = ?").bind(1, status).bind(2, id).run();
}

void prune_auth_requests(Db& db, TimePoint now) {
    db.prepare("DELETE FROM auth_requests WHERE expires_at < ?").bind(1, format_time(now)).run();
}

std::optional<AuthRequest> find_pending_auth_request(Db& db, const std::string& machine_key,
                                                     const std::string& node_key, TimePoint now) {
    auto st = db.prepare(
        "SELECT id, machine_key, node_key, hostname, user_id, status, created_at, expires_at, method "
        "FROM auth_requests WHERE machine_key = ? AND node_key = ? AND status = 'pending' "
        "AND expires_at > ? ORDER BY expires_at DESC LIMIT 1");
    st.bind(1, machine_key).bind(2, node_key).bind(3, format_time(now));
    if (!st.step()) return std::nullopt;
    return read_request(st);
}

std::int64_t count_pending_auth_requests(Db& db, TimePoint now) {
    auto st = db.prepare("SELECT count(*) FROM auth_requests WHERE status = 'pending' AND expires_at > ?");
    st.bind(1, format_time(now));
    st.step();
    return st.int64(0);
}

}  // namespace hs::store
