// Narrow node setters. Each statement names only the columns it changes, so it never writes back
// a stale copy of the others: hs-control updates what clients report while an admin edits names,
// owners and routes of the same rows from another process.
#include "common/store/store.h"

namespace hs::store {
namespace {

// Runs an UPDATE whose last parameter is the node id and whose first one is updated_at.
void update_fields(Db& db, std::int64_t id, Stmt& st, int id_param) {
    st.bind(1, format_time(Clock::now(), true)).bind(id_param, id);
    st.run();
    if (db.changes() == 0) throw NotFound("node " + std::to_string(id) + " not found");
}

void bind_opt_id(Stmt& st, int i, std::optional<std::int64_t> v) {
    if (v) st.bind(i, *v);
    else st.bind_null(i);
}

}  // namespace

void set_node_approved_routes(Db& db, std::int64_t id, const std::vector<std::string>& routes) {
    auto st = db.prepare("UPDATE nodes SET updated_at = ?, approved_routes = ? WHERE id = ?");
    st.bind(2, nlohmann::json(routes).dump());
    update_fields(db, id, st, 3);
}

void set_node_approved(Db& db, std::int64_t id, bool approved) {
    auto st = db.prepare("UPDATE nodes SET updated_at = ?, approved = ? WHERE id = ?");
    st.bind(2, std::int64_t{approved});
    update_fields(db, id, st, 3);
}

void set_node_user(Db& db, std::int64_t id, std::optional<std::int64_t> user_id) {
    auto st = db.prepare("UPDATE nodes SET updated_at = ?, user_id = ? WHERE id = ?");
    bind_opt_id(st, 2, user_id);
    update_fields(db, id, st, 3);
}

void set_node_tags(Db& db, std::int64_t id, const std::vector<std::string>& tags, std::optional<std::int64_t> user_id) {
    auto st = db.prepare("UPDATE nodes SET updated_at = ?, tags = ?, user_id = ? WHERE id = ?");
    st.bind(2, nlohmann::json(tags).dump());
    bind_opt_id(st, 3, user_id);
    update_fields(db, id, st, 4);
}

void set_node_given_name(Db& db, std::int64_t id, const std::string& given_name) {
    auto st = db.prepare("UPDATE nodes SET updated_at = ?, given_name = ? WHERE id = ?");
    st.bind(2, given_name);
    update_fields(db, id, st, 3);
}

void set_node_expiry(Db& db, std::int64_t id, std::optional<TimePoint> expiry) {
    auto st = db.prepare("UPDATE nodes SET updated_at = ?, expiry = ? WHERE id = ?");
    if (expiry) st.bind(2, format_time(*expiry, true));
    else st.bind_null(2);
    update_fields(db, id, st, 3);
}

void set_node_ips(Db& db, std::int64_t id, const std::optional<std::string>& ipv4,
                  const std::optional<std::string>& ipv6) {
    auto st = db.prepare("UPDATE nodes SET updated_at = ?, ipv4 = ?, ipv6 = ? WHERE id = ?");
    st.bind(2, ipv4).bind(3, ipv6);
    update_fields(db, id, st, 4);
}

void set_node_client_report(Db& db, const Node& n) {
    auto st = db.prepare(
        "UPDATE nodes SET updated_at = ?, disco_key = ?, endpoints = ?, host_info = ?, hostname = ? WHERE id = ?");
    st.bind(2, n.disco_key).bind(3, nlohmann::json(n.endpoints).dump()).bind(4, n.host_info.dump()).bind(5, n.hostname);
    update_fields(db, n.id, st, 6);
}

void set_node_login(Db& db, const Node& n) {
    auto st = db.prepare(
        "UPDATE nodes SET updated_at = ?, node_key = ?, user_id = ?, tags = ?, expiry = ?, register_method = ?, "
        "auth_key_id = ?, ephemeral = ?, host_info = ?, hostname = ? WHERE id = ?");
    st.bind(2, n.node_key);
    bind_opt_id(st, 3, n.user_id);
    st.bind(4, nlohmann::json(n.tags).dump());
    if (n.expiry) st.bind(5, format_time(*n.expiry, true));
    else st.bind_null(5);
    st.bind(6, n.register_method);
    bind_opt_id(st, 7, n.auth_key_id);
    st.bind(8, std::int64_t{n.ephemeral}).bind(9, n.host_info.dump()).bind(10, n.hostname);
    update_fields(db, n.id, st, 11);
}

}  // namespace hs::store
