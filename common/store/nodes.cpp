#include <set>

#include "common/store/store.h"

namespace hs::store {
namespace {

constexpr const char* kNodeColumns =
    "SELECT id, machine_key, node_key, disco_key, endpoints, host_info, ipv4, ipv6, hostname, given_name, user_id, "
    "register_method, tags, auth_key_id, last_seen, expiry, approved_routes, created_at, updated_at, online, "
    "ephemeral, primary_routes, approved FROM nodes";

std::vector<std::string> string_list(const std::string& json_text) {
    std::vector<std::string> out;
    const auto j = nlohmann::json::parse(json_text, nullptr, false);
    if (j.is_array())
        for (const auto& v : j)
            if (v.is_string()) out.push_back(v.get<std::string>());
    return out;
}

std::optional<TimePoint> opt_time(const Stmt& st, int col) {
    if (auto t = st.opt_text(col)) return parse_time(*t);
    return std::nullopt;
}

Node read_node(const Stmt& st) {
    Node n;
    n.id = st.int64(0);
    n.machine_key = st.text(1);
    n.node_key = st.text(2);
    n.disco_key = st.text(3);
    n.endpoints = string_list(st.text(4));
    n.host_info = nlohmann::json::parse(st.text(5), nullptr, false);
    if (!n.host_info.is_object()) n.host_info = nlohmann::json::object();
    n.ipv4 = st.opt_text(6);
    n.ipv6 = st.opt_text(7);
    n.hostname = st.text(8);
    n.given_name = st.text(9);
    if (!st.is_null(10)) n.user_id = st.int64(10);
    n.register_method = st.text(11);
    n.tags = string_list(st.text(12));
    if (!st.is_null(13)) n.auth_key_id = st.int64(13);
    n.last_seen = opt_time(st, 14);
    n.expiry = opt_time(st, 15);
    n.approved_routes = string_list(st.text(16));
    n.created_at = parse_time(st.text(17)).value_or(TimePoint{});
    n.updated_at = parse_time(st.text(18)).value_or(TimePoint{});
    n.online_slots = static_cast<std::uint64_t>(st.int64(19));
    n.online = n.online_slots != 0;
    n.ephemeral = st.int64(20) != 0;
    n.primary_routes = string_list(st.text(21));
    n.approved = st.int64(22) != 0;
    return n;
}

void bind_time(Stmt& st, int i, const std::optional<TimePoint>& t) {
    if (t) st.bind(i, format_time(*t, true));
    else st.bind_null(i);
}

// Binds columns 1..20 (kNodeColumns order without id and online, then ephemeral, approved).
void bind_node(Stmt& st, const Node& n) {
    st.bind(1, n.machine_key).bind(2, n.node_key).bind(3, n.disco_key);
    st.bind(4, nlohmann::json(n.endpoints).dump()).bind(5, n.host_info.dump());
    st.bind(6, n.ipv4).bind(7, n.ipv6).bind(8, n.hostname).bind(9, n.given_name);
    if (n.user_id) st.bind(10, *n.user_id);
    else st.bind_null(10);
    st.bind(11, n.register_method).bind(12, nlohmann::json(n.tags).dump());
    if (n.auth_key_id) st.bind(13, *n.auth_key_id);
    else st.bind_null(13);
    bind_time(st, 14, n.last_seen);
    bind_time(st, 15, n.expiry);
    st.bind(16, nlohmann::json(n.approved_routes).dump());
    st.bind(17, format_time(n.created_at, true)).bind(18, format_time(n.updated_at, true));
    st.bind(19, std::int64_t{n.ephemeral}).bind(20, std::int64_t{n.approved});
}

}  // namespace

std::vector<Node> list_nodes(Db& db) {
    std::vector<Node> out;
    each_node(db, [&out](Node&& n) { out.push_back(std::move(n)); });
    return out;
}

void each_node(Db& db, const std::function<void(Node&&)>& fn) {
    auto st = db.prepare(std::string(kNodeColumns) + " ORDER BY id");
    while (st.step()) fn(read_node(st));
}

std::optional<Node> find_node(Db& db, std::int64_t id) {
    auto st = db.prepare(std::string(kNodeColumns) + " WHERE id = ?");
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    return read_node(st);
}

std::optional<Node> find_node_by_node_key(Db& db, std::string_view node_key) {
    auto st = db.prepare(std::string(kNodeColumns) + " WHERE node_key = ?");
    st.bind(1, node_key);
    if (!st.step()) return std::nullopt;
    return read_node(st);
}

std::optional<Node> find_node_by_machine_key(Db& db, std::string_view machine_key) {
    auto st = db.prepare(std::string(kNodeColumns) + " WHERE machine_key = ? ORDER BY id DESC LIMIT 1");
    st.bind(1, machine_key);
    if (!st.step()) return std::nullopt;
    return read_node(st);
}

Node insert_node(Db& db, Node n, bool keep_id) {
    // A new node leaves id out (PostgreSQL's identity column takes no NULL for "the next one").
    auto st =
        db.prepare(std::string("INSERT INTO nodes(machine_key, node_key, disco_key, endpoints, host_info, ipv4, ipv6, "
                               "hostname, given_name, user_id, register_method, tags, auth_key_id, last_seen, expiry, "
                               "approved_routes, created_at, updated_at, ephemeral, approved") +
                   (keep_id ? ", id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                            : ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    bind_node(st, n);
    if (keep_id) st.bind(21, n.id);
    st.run();
    // PostgreSQL's identity does not move past an id given explicitly; SQLite's rowid does.
    if (keep_id && db.postgres())
        db.exec("SELECT setval(pg_get_serial_sequence('nodes', 'id'), (SELECT max(id) FROM nodes))");
    else n.id = db.last_insert_id();
    return n;
}

void update_node(Db& db, const Node& n) {
    auto st = db.prepare(
        "UPDATE nodes SET machine_key = ?, node_key = ?, disco_key = ?, endpoints = ?, host_info = ?, ipv4 = ?, "
        "ipv6 = ?, hostname = ?, given_name = ?, user_id = ?, register_method = ?, tags = ?, auth_key_id = ?, "
        "last_seen = ?, expiry = ?, approved_routes = ?, created_at = ?, updated_at = ?, ephemeral = ?, approved = ? "
        "WHERE id = ?");
    bind_node(st, n);
    st.bind(21, n.id);
    st.run();
    if (db.changes() == 0) throw NotFound("node " + std::to_string(n.id) + " not found");
}

void delete_node(Db& db, std::int64_t id) {
    db.prepare("DELETE FROM nodes WHERE id = ?").bind(1, id).run();
    if (db.changes() == 0) throw NotFound("node " + std::to_string(id) + " not found");
}

void set_nodes_presence(Db& db, const std::vector<std::int64_t>& ids, std::uint64_t instance_bit, bool online,
                        TimePoint now) {
    if (ids.empty()) return;
    // One statement for the whole batch: a reconnect storm's presence holds the write lock, which
    // every instance's registrations wait for, as briefly as possible. The CASTs let PostgreSQL
    // type the bit operators' parameter; SQLite ignores them.
    const std::string set = online ? "online = online | CAST(?1 AS BIGINT)" : "online = online & ~CAST(?1 AS BIGINT)";
    const std::string which =
        db.postgres() ? "id = ANY(CAST(?3 AS BIGINT[]))" : "id IN (SELECT value FROM json_each(?3))";
    std::string list;
    for (const auto id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
    db.prepare("UPDATE nodes SET " + set + ", last_seen = ?2 WHERE " + which)
        .bind(1, static_cast<std::int64_t>(instance_bit))
        .bind(2, format_time(now))
        .bind(3, db.postgres() ? "{" + list + "}" : "[" + list + "]")
        .run();
}

bool delete_node_if_offline(Db& db, std::int64_t id) {
    db.prepare("DELETE FROM nodes WHERE id = ? AND online = 0").bind(1, id).run();
    return db.changes() > 0;
}

void set_node_primary_routes(Db& db, std::int64_t id, const std::vector<std::string>& routes) {
    db.prepare("UPDATE nodes SET primary_routes = ? WHERE id = ?")
        .bind(1, nlohmann::json(routes).dump())
        .bind(2, id)
        .run();
}

std::string dns_label(std::string_view hostname) {
    std::string out;
    for (char c : hostname) {
        if (out.size() >= 63) break;
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) out.push_back(c);
        else if (!out.empty() && out.back() != '-') out.push_back('-');
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    return out.empty() ? "node" : out;
}

void validate_given_name(std::string_view name) {
    if (name.empty() || name.size() > 63 || dns_label(name) != name)
        throw StoreError(
            "invalid node name \"" + std::string(name) +
            "\": expected a DNS label (1-63 lower-case letters, digits or '-', not starting or ending with '-')");
}

std::string unique_given_name(Db& db, const std::string& base, std::int64_t except) {
    std::set<std::string> taken;
    // "base-*" as a range on given_name's unique index ('.' follows '-'): LIKE would read every
    // row, for each registration. Names are DNS labels, so LIKE's case folding changed nothing.
    auto st = db.prepare(
        "SELECT given_name FROM nodes WHERE (given_name = ?1 OR (given_name >= ?1 || '-' AND given_name < ?1 || '.')) "
        "AND id != ?2");
    st.bind(1, base).bind(2, except);
    while (st.step()) taken.insert(st.text(0));
    if (!taken.count(base)) return base;
    for (int i = 1;; ++i) {
        const auto suffix = "-" + std::to_string(i);
        const auto candidate = base.substr(0, 63 - suffix.size()) + suffix;
        if (!taken.count(candidate)) return candidate;
    }
}

std::vector<NodeKeyRow> node_keys(Db& db) {
    std::vector<NodeKeyRow> out;
    auto st = db.prepare("SELECT node_key, expiry FROM nodes");
    while (st.step()) out.push_back({st.text(0), st.is_null(1) ? std::string() : st.text(1)});
    return out;
}

}  // namespace hs::store
