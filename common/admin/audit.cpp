// The audit trail: every operation that writes is recorded with who ran it, what it touched,
// and a summary before and after. run_op (ops.cpp) calls these for hs-admin on the file and for
// hs-control's REST API alike.
#include "common/admin/audit.h"

#include <spdlog/spdlog.h>

#include "common/admin/ops.h"
#include "common/base/duration.h"

namespace hs::admin {
namespace {

constexpr std::size_t kMaxShownString = 160;

std::optional<std::string> dump_or_null(const json& j) {
    if (j.is_null()) return std::nullopt;
    return audit_redact(j).dump(-1, ' ', false, json::error_handler_t::replace);
}

bool starts_with(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

// The object an operation names, from its parameters (path variables and flags).
std::string object_of(const Op& op, const Params& p, const json& result) {
    const auto area = op.name.substr(0, op.name.find('.'));
    if (area == "users") {
        if (p.has("user")) return "user " + p.str("user");
        if (result.is_object() && result.contains("id"))
            return "user " + result["id"].dump() + " (" + result.value("name", "") + ")";
        return "user " + p.str("name");
    }
    if (area == "policy") return "policy";
    if (op.name == "nodes.register" || op.name == "auth.register")
        return "registration " + p.str(op.name == "nodes.register" ? "key" : "auth_id") + " for user " + p.str("user");
    if (area == "nodes" && p.has("id")) return "node " + p.str("id");
    if (area == "preauthkeys" || area == "apikeys") {
        const auto noun = area == "apikeys" ? std::string("API key ") : std::string("pre-auth key ");
        if (p.has("id")) return noun + p.str("id");
        if (p.has("prefix")) return noun + p.str("prefix");
        if (result.is_object() && result.contains("id")) return noun + result["id"].dump();
    }
    if (area == "routes" || op.name == "nodes.approve_routes")
        return "routes " + p.str("id", p.str("node")) + " " + p.str("routes");
    return op.name;
}

}  // namespace

// Unlocks write their own signin.unlocked row (admin/signin.cpp).
bool op_writes(const Op& op) {
    return op.method != "GET" && op.name != "policy.check" && op.name != "policy.test" && !op.name.ends_with(".unlock");
}

json node_summary(const Node& n) {
    return {{"id", n.id},
            {"name", n.given_name},
            {"user_id", n.user_id ? json(*n.user_id) : json(nullptr)},
            {"tags", n.tags},
            {"expiry", json_time(n.expiry)},
            {"approved_routes", n.approved_routes},
            {"node_key", n.node_key},
            {"machine_key", n.machine_key}};
}

std::string node_object(const Node& n) { return "node " + std::to_string(n.id) + " (" + n.given_name + ")"; }

json audit_redact(const json& j) {
    if (j.is_object()) {
        json out = json::object();
        for (const auto& [k, v] : j.items()) {
            if (k == "key" && v.is_string() && starts_with(v.get<std::string>(), "hskey-")) {
                out[k] = "(secret, not recorded)";
                continue;
            }
            out[k] = audit_redact(v);
        }
        return out;
    }
    if (j.is_array()) {
        json out = json::array();
        for (const auto& v : j) out.push_back(audit_redact(v));
        return out;
    }
    if (j.is_string() && j.get_ref<const std::string&>().size() > kMaxShownString)
        return "(" + std::to_string(j.get_ref<const std::string&>().size()) + " bytes)";
    return j;
}

json audit_before(Env& env, const Op& op, const Params& p) {
    try {
        const auto area = op.name.substr(0, op.name.find('.'));
        if ((area == "nodes" || area == "routes") && p.has("id")) {
            if (auto n = store::find_node(env.db, p.id("id", "node"))) return node_summary(*n);
        } else if (area == "users" && p.has("user")) {
            return user_json(store::resolve_user(env.db, p.str("user")));
        } else if (area == "preauthkeys" && p.has("id")) {
            if (auto k = store::find_preauth_key(env.db, p.id("id", "pre-auth key")))
                return preauth_key_json(*k, user_index(env.db));
        } else if (area == "apikeys" && p.has("id")) {
            if (auto k = store::find_api_key(env.db, p.id("id", "API key"))) return api_key_json(*k);
        } else if (area == "apikeys" && p.has("prefix")) {
            if (auto k = store::find_api_key_by_prefix(env.db, p.str("prefix"))) return api_key_json(*k);
        } else if (op.name == "policy.set") {
            if (auto text = current_policy_text(env)) return {{"policy", *text}};
        }
    } catch (const std::exception&) {
        // The operation itself will report a bad reference; the audit row just has no before.
    }
    return nullptr;
}

void audit_record(Env& env, const Op& op, const Params& p, const json& before, const json& result) {
    store::AuditEntry e;
    e.at = env.now;
    e.actor = env.actor;
    e.action = op.name;
    e.source = env.source;
    try {
        e.object = object_of(op, p, result);
        e.before = dump_or_null(before);
        e.after = dump_or_null(result);
        store::append_audit(env.db, e);
    } catch (const std::exception& ex) {
        spdlog::error("audit trail: {} by {} not recorded: {}", op.name, env.actor, ex.what());
    }
}

void audit_control_change(Db& db, TimePoint now, const std::string& action, const std::string& object,
                          const json& before, const json& after, const std::string& source) {
    store::AuditEntry e{.at = now, .actor = "hs-control", .action = action, .object = object, .source = source};
    try {
        e.before = dump_or_null(before);
        e.after = dump_or_null(after);
        store::append_audit(db, e);
    } catch (const std::exception& ex) {
        spdlog::error("audit trail: {} of {} not recorded: {}", action, object, ex.what());
    }
}

json audit_json(const store::AuditEntry& e) {
    const auto parsed = [](const std::optional<std::string>& s) {
        if (!s) return json(nullptr);
        auto j = json::parse(*s, nullptr, false);
        return j.is_discarded() ? json(*s) : j;
    };
    return {{"id", e.id},         {"at", json_time(e.at)},      {"actor", e.actor},         {"action", e.action},
            {"object", e.object}, {"before", parsed(e.before)}, {"after", parsed(e.after)}, {"source", e.source}};
}

namespace {

json audit_list(Env& env, const Params& p) {
    const auto since = p.str("since", "24h");
    const auto d = parse_duration(since);
    const auto from = d.count() == 0 ? TimePoint{} : env.now - d;
    auto items = json::array();
    for (const auto& e : store::list_audit(env.db, from)) items.push_back(audit_json(e));
    return items;
}

}  // namespace

void add_audit_ops(OpTable& t) { t.push_back({"audit.list", "GET", "/api/v1/audit", audit_list}); }

}  // namespace hs::admin
