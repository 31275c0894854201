// Events: the audit rows an operator is alerted to (a new API key, a policy change, a node
// registered or deleted), read from the audit trail so any number of readers can follow the
// SQLite file and resume where they stopped (an event's id is its audit row's id).
#include <algorithm>
#include <cctype>

#include "common/admin/audit.h"
#include "common/admin/ops.h"
#include "common/base/duration.h"

namespace hs::admin {

std::optional<std::string> event_kind(std::string_view action) {
    if (action == "apikeys.create") return "apikey.created";
    if (action == "policy.set" || action == "policy.reloaded") return "policy.changed";
    if (action == "node.registered" || action == "nodes.register" || action == "auth.register")
        return "node.registered";
    if (action == "node.deleted" || action == "nodes.delete") return "node.deleted";
    return std::nullopt;
}

json events_after(Env& env, TimePoint since, std::int64_t after_id) {
    auto items = json::array();
    for (const auto& e : store::list_audit(env.db, since, after_id)) {
        const auto kind = event_kind(e.action);
        if (!kind) continue;
        auto j = audit_json(e);
        j["event"] = *kind;
        items.push_back(std::move(j));
    }
    return items;
}

std::pair<TimePoint, std::int64_t> events_since(const std::string& since, TimePoint now) {
    // A bare number is the last event ID seen (resume after it); anything else a duration.
    if (!since.empty() && std::all_of(since.begin(), since.end(), [](unsigned char c) { return std::isdigit(c); }) &&
        since.size() < 19)
        return {TimePoint{}, std::stoll(since)};
    return {now - parse_duration(since), 0};
}

void add_event_ops(OpTable& t) {
    t.push_back({"events.list", "GET", "/api/v1/events", [](Env& env, const Params& p) {
                     const auto [since, after] = events_since(p.str("since", "24h"), env.now);
                     return events_after(env, since, after);
                 }});
}

}  // namespace hs::admin
