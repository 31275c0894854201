// Events: the audit rows an operator is alerted to (sign-ins from a new network or after
// failures, lockouts, a new API key, a policy change, a node registered or deleted), read from
// the audit trail so any number of readers can follow the SQLite file and resume where they
// stopped (an event's id is its audit row's id; one row can raise two events).
#include <algorithm>
#include <cctype>

#include "common/admin/events.h"

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
    if (action == "signin.locked") return "signin.locked";
    return std::nullopt;
}

std::vector<json> EventReader::next(Db& db, std::int64_t limit) {
    const auto newest_before = primed_ ? 0 : store::last_audit_id(db);
    const auto rows = store::list_audit(db, since_, last_, limit);
    if (!primed_) {
        // Everything before the first row to read is history; with nothing to read yet, all
        // rows that existed before the read are.
        const auto through = rows.empty() ? std::max(newest_before, last_) : rows.front().id - 1;
        for (const auto& e : store::audit_history(db, "signin.", through, kPrimeRows)) deriver_.feed(e);
        last_ = std::max(last_, through);
        primed_ = true;
    }
    std::vector<json> out;
    for (const auto& e : rows) {
        last_ = e.id;
        for (auto& d : deriver_.feed(e)) {
            auto j = audit_json(e);
            j["event"] = d.name;
            for (auto& [k, v] : d.detail.items()) j[k] = v;
            out.push_back(std::move(j));
        }
    }
    return out;
}

json events_after(Env& env, TimePoint since, std::int64_t after_id) {
    EventReader r(since, after_id);
    return json(r.next(env.db));
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
