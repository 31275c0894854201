// Narrow node setters for admin edits. Each statement names only the columns it changes, so it
// never writes back a stale copy of the others (hs-control updates host_info and endpoints of
// the same rows while an admin works).
#include "common/store.h"

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

void set_node_ips(Db& db, std::int64_t id, const std::optional<std::string>& ipv4, const std::optional<std::string>& ipv6) {
    auto st = db.prepare("UPDATE nodes SET updated_at = ?, ipv4 = ?, ipv6 = ? WHERE id = ?");
    st.bind(2, ipv4).bind(3, ipv6);
    update_fields(db, id, st, 4);
}

}  // namespace hs::store
