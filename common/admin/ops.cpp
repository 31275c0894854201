#include "common/admin/ops.h"

#include <algorithm>
#include <stdexcept>

#include "common/base/duration.h"

namespace hs::admin {
namespace {

bool all_digits(const std::string& s) {
    return !s.empty() && s.size() < 19 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

OpTable build() {
    OpTable t;
    add_user_ops(t);
    add_auth_ops(t);
    add_key_ops(t);
    add_node_ops(t);
    add_route_ops(t);
    add_policy_ops(t);
    add_audit_ops(t);
    add_audit_check_ops(t);
    add_event_ops(t);
    add_signin_ops(t);
    return t;
}

// A time_point counts nanoseconds from 1970 and overflows in 2262; keep well inside it.
constexpr auto kMaxExpiration = std::chrono::hours(24 * 365 * 100);

}  // namespace

bool Params::has(const char* key) const {
    const auto it = j_.find(key);
    return it != j_.end() && !it->is_null() && !(it->is_string() && it->get_ref<const std::string&>().empty());
}

std::string Params::str(const char* key, const std::string& def) const {
    const auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return def;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number_integer()) return std::to_string(it->get<std::int64_t>());
    throw store::StoreError(std::string("parameter \"") + key + "\" must be a string");
}

std::int64_t Params::id(const char* key, const char* what) const {
    const auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) throw store::StoreError(std::string("missing ") + what + " ID");
    if (it->is_number_integer()) return it->get<std::int64_t>();
    if (it->is_string() && all_digits(it->get<std::string>())) return std::stoll(it->get<std::string>());
    throw store::StoreError(std::string("invalid ") + what + " ID \"" +
                            (it->is_string() ? it->get<std::string>() : it->dump()) + "\": expected a number");
}

bool Params::flag(const char* key) const {
    const auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return false;
    if (it->is_boolean()) return it->get<bool>();
    if (it->is_string()) {
        const auto& s = it->get_ref<const std::string&>();
        if (s == "true" || s == "1") return true;
        if (s == "false" || s == "0" || s.empty()) return false;
    }
    throw store::StoreError(std::string("parameter \"") + key + "\" must be true or false");
}

std::vector<std::string> Params::list(const char* key) const {
    std::vector<std::string> out;
    const auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return out;
    if (it->is_array()) {
        for (const auto& v : *it) {
            if (!v.is_string())
                throw store::StoreError(std::string("parameter \"") + key + "\" must be a list of strings");
            out.push_back(v.get<std::string>());
        }
        return out;
    }
    if (!it->is_string()) throw store::StoreError(std::string("parameter \"") + key + "\" must be a list of strings");
    const auto& s = it->get_ref<const std::string&>();
    std::size_t pos = 0;
    while (!s.empty() && pos <= s.size()) {
        const auto comma = s.find(',', pos);
        out.push_back(s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return out;
}

const OpTable& ops() {
    static const OpTable table = build();
    return table;
}

const Op* find_op(std::string_view name) {
    for (const auto& op : ops())
        if (op.name == name) return &op;
    return nullptr;
}

json run_op(std::string_view name, const json& params, Env& env) {
    const auto* op = find_op(name);
    if (!op) throw std::logic_error("unknown operation " + std::string(name));
    const json empty = json::object();
    const Params p(params.is_object() ? params : empty);
    if (!op_writes(*op)) return op->run(env, p);
    const auto before = audit_before(env, *op, p);
    auto result = op->run(env, p);
    audit_record(env, *op, p, before, result);
    return result;
}

std::optional<TimePoint> expiration_from(const std::string& text, TimePoint now) {
    // An RFC 3339 time is the moment itself (headscale's API sends times); its zero time is never.
    if (text.rfind("0001-01-01T", 0) == 0) return std::nullopt;
    if (const auto at = parse_time(text)) {
        if (*at <= now) throw DurationError("invalid expiration \"" + text + "\": the time is in the past");
        if (*at - now > kMaxExpiration)
            throw DurationError("invalid expiration \"" + text + "\": at most 100 years ahead");
        return at;
    }
    const auto d = parse_duration(text);
    if (d.count() == 0) return std::nullopt;
    if (d > kMaxExpiration)
        throw DurationError("invalid expiration \"" + text + "\": at most 100y (use 0 for a key that never expires)");
    return now + d;
}

json result_json(const std::string& text) { return json{{"result", text}}; }

}  // namespace hs::admin
