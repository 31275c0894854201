// headscale rows -> hs records. Columns are read by name because their set and order changed
// between releases (reference §3.2-3.3): 0.23-0.25 keep approved routes in a routes table,
// <=0.27 has forced_tags and plaintext pre-auth keys, 0.28+ has tags and bcrypt keys.
#include <algorithm>
#include <set>

#include "common/base/keys.h"
#include "common/base/netaddr.h"
#include "common/base/secret_key.h"
#include "common/store/headscale_import.h"

namespace hs::store {
namespace {

// Every migration id of headscale 0.23.0 to 0.29.2 (hscontrol/db/db.go of each release), and
// gormigrate's marker for a database created from the current schema at once.
const std::set<std::string>& known_migrations() {
    static const std::set<std::string> ids = {
        "SCHEMA_INIT",
        "202312101416",
        "202312101430",
        "202402151347",
        "2024041121742",
        "202406021630",
        "202409271400",
        "202407191627",
        "202408181235",
        "202501221827",
        "202501311657",
        "202502070949",
        "202502131714",
        "202502171819",
        "202505091439",
        "202505141324",
        "202507021200",
        "202510311551",
        "202511101554-drop-old-idx",
        "202511011637-preauthkey-bcrypt",
        "202511122344-remove-newline-index",
        "202511131445-node-forced-tags-to-tags",
        "202601121700-migrate-hostinfo-request-tags",
        "202602201200-clear-tagged-node-user-id",
        "202605221435-clear-zero-time-node-expiry",
        kNewestKnownHeadscaleMigration,
    };
    return ids;
}

class RowReader {
public:
    RowReader(const HeadscaleRow& row, std::string table, const std::string& file) : row_(row) {
        where_ = file + ": headscale " + std::move(table) + " row id " + str("id");
    }

    std::optional<std::string> get(const std::string& col) const {
        const auto it = row_.find(col);
        return it == row_.end() ? std::nullopt : it->second;
    }
    bool has(const std::string& col) const { return row_.count(col) > 0; }
    std::string str(const std::string& col) const { return get(col).value_or(""); }

    [[noreturn]] void fail(const std::string& col, const std::string& why) const {
        throw ImportError(where_ + ": " + col + ": " + why + kNothingImported);
    }

    std::int64_t id(const std::string& col = "id") const {
        const auto v = get(col);
        if (!v || v->empty()) fail(col, "missing");
        try {
            std::size_t used = 0;
            const auto n = std::stoll(*v, &used);
            if (used == v->size() && n > 0) return n;
        } catch (const std::exception&) {}
        fail(col, "\"" + *v + "\" is not a positive integer");
    }
    // NULL and 0 (older releases wrote 0 for "none") are both no reference.
    std::optional<std::int64_t> ref(const std::string& col) const {
        const auto v = get(col);
        if (!v || v->empty() || *v == "0") return std::nullopt;
        return id(col);
    }
    bool flag(const std::string& col) const {
        const auto v = str(col);
        if (v.empty() || v == "0" || v == "false") return false;
        if (v == "1" || v == "true") return true;
        fail(col, "\"" + v + "\" is not a boolean");
    }
    // GORM writes "2025-02-05 16:46:13.960213431+00:00"; Go's zero time means "none".
    std::optional<TimePoint> time(const std::string& col) const {
        auto v = str(col);
        if (v.empty() || v.rfind("0001-01-01", 0) == 0) return std::nullopt;
        if (v.size() > 10 && v[10] == ' ') v[10] = 'T';
        if (auto t = parse_time(v)) return t;
        if (auto t = parse_time(v + "Z")) return t;  // SQLite's CURRENT_TIMESTAMP has no zone
        fail(col, "\"" + str(col) + "\" is not a time");
    }
    TimePoint time_or(const std::string& col, TimePoint fallback) const { return time(col).value_or(fallback); }
    // A JSON list of strings; NULL, '', 'null' and '[]' are all empty (headscale bug #3323).
    std::vector<std::string> strings(const std::string& col) const {
        const auto v = str(col);
        if (v.empty() || v == "null") return {};
        const auto j = nlohmann::json::parse(v, nullptr, false);
        std::vector<std::string> out;
        if (j.is_null()) return out;
        if (!j.is_array()) fail(col, "\"" + v + "\" is not a JSON list");
        for (const auto& e : j) {
            if (!e.is_string()) fail(col, "\"" + v + "\" is not a JSON list of strings");
            out.push_back(e.get<std::string>());
        }
        return out;
    }
    nlohmann::json json_value(const std::string& col, nlohmann::json fallback) const {
        const auto v = str(col);
        if (v.empty() || v == "null") return fallback;
        auto j = nlohmann::json::parse(v, nullptr, false);
        if (j.is_discarded() || j.type() != fallback.type())
            fail(col, "\"" + v.substr(0, 80) + "\" is not valid JSON of the expected kind");
        return j;
    }
    // prefix + 64 hex; `bare_ok`: headscale <=0.22 wrote machine keys without the prefix.
    std::string key(const std::string& col, std::string_view prefix, bool optional, bool bare_ok = false) const {
        auto v = str(col);
        if (v.empty() && optional) return "";
        if (bare_ok && v.size() == 64 && v.find(':') == std::string::npos) v = std::string(prefix) + v;
        try {
            return key_text(prefix, parse_key_text(v, prefix));
        } catch (const KeyError& e) {
            fail(col, "\"" + str(col) + "\": " + e.what());
        }
    }
    std::optional<std::string> ip(const std::string& col, bool v6) const {
        const auto v = str(col);
        if (v.empty()) return std::nullopt;
        const auto a = parse_ip(v);
        if (!a || a->v6 != v6) fail(col, "\"" + v + "\" is not an " + (v6 ? "IPv6" : "IPv4") + " address");
        return a->str();
    }
    const std::string& where() const { return where_; }

private:
    const HeadscaleRow& row_;
    std::string where_;
};

const std::vector<HeadscaleRow>& table(const HeadscaleTables& t, const std::string& name) {
    static const std::vector<HeadscaleRow> none;
    const auto it = t.tables.find(name);
    return it == t.tables.end() ? none : it->second;
}

std::string describe_version(const HeadscaleTables& t, const std::string& name) {
    if (!t.has_migrations_table)
        throw ImportError(name +
                          ": no migrations table: a headscale database older than 0.23 (or not one); upgrade "
                          "headscale to 0.23 or later, start it once, then import" +
                          kNothingImported);
    for (const auto& id : t.migrations)
        if (!known_migrations().count(id))
            throw ImportError(name + ": migration \"" + id +
                              "\" is unknown to this hs (it knows headscale 0.23 to "
                              "0.29.2, newest \"" +
                              kNewestKnownHeadscaleMigration +
                              "\"): the file comes from a newer headscale; upgrade hs" + kNothingImported);
    if (!t.database_version.empty()) {
        auto v = t.database_version;
        if (!v.empty() && v[0] == 'v') v.erase(0, 1);
        int major = 0, minor = 0;
        if (std::sscanf(v.c_str(), "%d.%d", &major, &minor) == 2 && (major > 0 || minor > 29))
            throw ImportError(name + ": written by headscale " + t.database_version +
                              ", newer than this hs knows (0.23 to 0.29)" + kNothingImported);
    }
    std::string shape = t.tables.count("routes") ? "0.23-0.25 shape (routes table)" : "0.26+ shape (approved_routes)";
    const auto& nodes = table(t, "nodes");
    if (!nodes.empty() && nodes.front().count("forced_tags")) shape += ", forced_tags";
    const std::string ver = t.database_version.empty() ? "" : " " + t.database_version;
    return "headscale" + ver + " database, " + std::to_string(t.migrations.size()) + " migration ids, " + shape;
}

void convert_users(const HeadscaleTables& t, const std::string& name, HeadscaleImport& out,
                   std::set<std::int64_t>& ids) {
    for (const auto& row : table(t, "users")) {
        RowReader r(row, "users", name);
        User u;
        u.id = r.id();
        if (r.get("deleted_at")) {
            out.not_imported.push_back("user " + std::to_string(u.id) + " (\"" + r.str("name") +
                                       "\"): deleted in headscale (soft delete)");
            continue;
        }
        u.name = r.str("name");
        if (u.name.empty()) r.fail("name", "empty");
        u.display_name = r.str("display_name");
        u.email = r.str("email");
        u.provider = r.str("provider");
        const auto pid = r.get("provider_identifier");
        if (pid && !pid->empty()) u.provider_identifier = *pid;
        u.profile_pic_url = r.str("profile_pic_url");
        u.created_at = r.time_or("created_at", Clock::now());
        if (u.provider == "oidc")
            out.not_imported.push_back("user " + std::to_string(u.id) + " (\"" + u.name +
                                       "\") logs in through OIDC, "
                                       "which hs does not implement yet: imported, its nodes keep working; its next "
                                       "interactive login needs hs-admin auth register");
        ids.insert(u.id);
        out.users.push_back(std::move(u));
    }
}

void convert_preauth_keys(const HeadscaleTables& t, const std::string& name, HeadscaleImport& out,
                          const std::set<std::int64_t>& users, std::map<std::int64_t, bool>& ephemeral) {
    for (const auto& row : table(t, "pre_auth_keys")) {
        RowReader r(row, "pre_auth_keys", name);
        ImportedPreAuthKey k;
        k.key.id = r.id();
        const auto label = "pre-auth key " + std::to_string(k.key.id);
        k.key.user_id = r.ref("user_id");
        if (k.key.user_id && !users.count(*k.key.user_id)) {
            out.not_imported.push_back(label + ": its user " + std::to_string(*k.key.user_id) + " was not imported");
            continue;
        }
        k.key.reusable = r.flag("reusable");
        k.key.ephemeral = r.flag("ephemeral");
        k.key.used = r.flag("used");
        k.key.tags = r.strings("tags");
        for (const auto& tag : k.key.tags)
            if (tag.rfind("tag:", 0) != 0) r.fail("tags", "\"" + tag + "\" does not start with tag:");
        k.key.expiration = r.time("expiration");
        k.key.created_at = r.time_or("created_at", Clock::now());
        const auto legacy = r.str("key");
        const auto prefix = r.str("prefix");
        if (!prefix.empty()) {
            const auto h = r.str("hash");
            k.hash.assign(h.begin(), h.end());
            if (!is_bcrypt_hash(k.hash)) r.fail("hash", "not a bcrypt hash");
            if (prefix.size() != 12) r.fail("prefix", "\"" + prefix + "\" is not 12 characters");
            k.key.prefix = prefix;
        } else if (!legacy.empty()) {
            k.hash = secret_hash(legacy);
            k.key.prefix = legacy_preauth_prefix(legacy);
        } else {
            r.fail("key", "neither a plaintext key nor a prefix and hash");
        }
        ephemeral[k.key.id] = k.key.ephemeral;
        if (!k.key.user_id && k.key.tags.empty()) {
            out.not_imported.push_back(label +
                                       ": has neither a user nor tags (its user was deleted), so no node can "
                                       "register with it");
            continue;
        }
        out.preauth_keys.push_back(std::move(k));
    }
}

void convert_api_keys(const HeadscaleTables& t, const std::string& name, HeadscaleImport& out) {
    for (const auto& row : table(t, "api_keys")) {
        RowReader r(row, "api_keys", name);
        ImportedApiKey k;
        k.key.id = r.id();
        k.key.prefix = r.str("prefix");
        if (k.key.prefix.size() != 12 && k.key.prefix.size() != 7)
            r.fail("prefix", "\"" + k.key.prefix + "\" is neither 12 nor (before 0.28) 7 characters");
        const auto h = r.str("hash");
        k.hash.assign(h.begin(), h.end());
        if (!is_bcrypt_hash(k.hash)) r.fail("hash", "not a bcrypt hash");
        k.key.expiration = r.time("expiration");
        k.key.last_seen = r.time("last_seen");
        k.key.created_at = r.time_or("created_at", Clock::now());
        out.api_keys.push_back(std::move(k));
    }
}

// 0.23-0.25: the enabled rows of the routes table are the node's approved routes.
std::map<std::int64_t, std::vector<std::string>> enabled_routes(const HeadscaleTables& t, const std::string& name) {
    std::map<std::int64_t, std::vector<std::string>> out;
    for (const auto& row : table(t, "routes")) {
        RowReader r(row, "routes", name);
        if (r.get("deleted_at") || !r.flag("enabled")) continue;
        const auto p = r.str("prefix");
        if (!parse_prefix(p)) r.fail("prefix", "\"" + p + "\" is not a prefix");
        out[r.id("node_id")].push_back(p);
    }
    return out;
}

Node convert_node(const RowReader& r, const std::map<std::int64_t, std::vector<std::string>>& routes) {
    Node n;
    n.id = r.id();
    n.machine_key = r.key("machine_key", kMachinePrefix, false, true);
    n.node_key = r.key("node_key", kNodePrefix, false);
    n.disco_key = r.key("disco_key", kDiscoPrefix, true);
    for (const auto& e : r.json_value("endpoints", nlohmann::json::array()))
        if (e.is_string()) n.endpoints.push_back(e.get<std::string>());
    n.host_info = r.json_value("host_info", nlohmann::json::object());
    n.ipv4 = r.ip("ipv4", false);
    n.ipv6 = r.ip("ipv6", true);
    n.hostname = r.str("hostname");
    n.given_name = r.str("given_name");
    if (n.given_name.empty()) n.given_name = dns_label(n.hostname);
    n.user_id = r.ref("user_id");
    n.register_method = r.str("register_method");
    n.tags = r.strings(r.has("tags") ? "tags" : "forced_tags");
    n.auth_key_id = r.ref("auth_key_id");
    n.last_seen = r.time("last_seen");
    n.expiry = r.time("expiry");
    if (r.has("approved_routes")) {
        n.approved_routes = r.strings("approved_routes");
    } else if (const auto it = routes.find(n.id); it != routes.end()) {
        n.approved_routes = it->second;
    }
    for (const auto& p : n.approved_routes)
        if (!parse_prefix(p)) r.fail("approved_routes", "\"" + p + "\" is not a prefix");
    n.created_at = r.time_or("created_at", Clock::now());
    n.updated_at = r.time_or("updated_at", n.created_at);
    return n;
}

void convert_nodes(const HeadscaleTables& t, const std::string& name, HeadscaleImport& out,
                   const std::set<std::int64_t>& users, const std::map<std::int64_t, bool>& key_ephemeral) {
    const auto routes = enabled_routes(t, name);
    std::set<std::int64_t> imported_keys;
    for (const auto& k : out.preauth_keys) imported_keys.insert(k.key.id);
    for (const auto& row : table(t, "nodes")) {
        RowReader r(row, "nodes", name);
        const auto label = "node " + r.str("id") + " (\"" + r.str("given_name") + "\")";
        if (r.get("deleted_at")) {
            out.not_imported.push_back(label + ": deleted in headscale (soft delete)");
            continue;
        }
        Node n = convert_node(r, routes);
        // hs's model (headscale's since 0.28): a tagged node belongs to its tags, not a user.
        if (!n.tags.empty()) n.user_id.reset();
        if (n.user_id && !users.count(*n.user_id)) {
            out.not_imported.push_back(label + ": its user " + std::to_string(*n.user_id) + " was not imported");
            continue;
        }
        if (!n.user_id && n.tags.empty())
            out.not_imported.push_back(label +
                                       ": has neither a user nor tags; imported without an owner (give it "
                                       "one with hs-admin nodes tag or move it)");
        if (n.auth_key_id) {
            const auto eph = key_ephemeral.find(*n.auth_key_id);
            n.ephemeral = eph != key_ephemeral.end() && eph->second;
            if (!imported_keys.count(*n.auth_key_id)) n.auth_key_id.reset();
        }
        const auto req = n.host_info.find("RequestTags");
        if (!r.has("tags") && req != n.host_info.end() && req->is_array() && !req->empty())
            out.not_imported.push_back(label + ": tags it requested (" + req->dump() +
                                       ") are not granted by the "
                                       "import; hs checks them against tagOwners at its next login");
        out.nodes.push_back(std::move(n));
    }
}

std::optional<std::string> latest_policy(const HeadscaleTables& t, const std::string& name) {
    std::optional<std::string> data;
    std::int64_t best = 0;
    for (const auto& row : table(t, "policies")) {
        RowReader r(row, "policies", name);
        if (r.get("deleted_at")) continue;
        if (const auto id = r.id(); id > best) {
            best = id;
            data = r.str("data");
        }
    }
    return data;
}

}  // namespace

HeadscaleImport convert_headscale(const HeadscaleTables& t, const std::string& name) {
    HeadscaleImport out;
    out.source = describe_version(t, name);
    std::set<std::int64_t> users;
    std::map<std::int64_t, bool> key_ephemeral;
    convert_users(t, name, out, users);
    convert_preauth_keys(t, name, out, users, key_ephemeral);
    convert_api_keys(t, name, out);
    convert_nodes(t, name, out, users, key_ephemeral);
    out.policy = latest_policy(t, name);
    return out;
}

}  // namespace hs::store
