// The administration operations, as named functions from a JSON object of parameters to a JSON
// result. hs-admin calls them on the local SQLite file; hs-control serves the same functions
// as its REST API (/api/v1/...), so both modes share one implementation and one output.
//
// Errors: store::NotFound (HTTP 404), store::StoreError and other std::invalid_argument style
// errors for bad input (400). Messages are meant for the user.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/admin/json.h"
#include "common/config/config.h"

namespace hs::admin {

struct Env {
    Db& db;
    const Config& cfg;
    TimePoint now;
    // When set, list operations that can stream (nodes.list) hand each item to `emit` as it is
    // made, in order, and return an empty array: hs-admin prints 10,000 nodes without holding
    // them, and its reader starts at once.
    std::function<void(json&&)> emit = {};
    // Who runs the operation and from where, for the audit trail (admin/audit.cpp):
    // "apikey:<id>" and the client's address for the REST API, "unix:<user>" and "local" for
    // hs-admin on the file.
    std::string actor = "unknown";
    std::string source = "";
};

// Read access to an operation's parameters. Values may arrive typed (local calls, JSON
// bodies) or as strings (URL path and query), so every accessor takes both forms.
class Params {
public:
    explicit Params(const json& j) : j_(j) {}
    bool has(const char* key) const;
    std::string str(const char* key, const std::string& def = "") const;
    // A required numeric ID; a missing or malformed one is a StoreError naming `what`.
    std::int64_t id(const char* key, const char* what) const;
    bool flag(const char* key) const;
    // A JSON array of strings, or one comma-separated string ("" = empty list).
    std::vector<std::string> list(const char* key) const;

private:
    const json& j_;
};

struct Op {
    std::string name;    // "nodes.list"
    std::string method;  // HTTP method of its REST route
    std::string path;    // "/api/v1/node/{id}"; {x} segments become parameter x
    std::function<json(Env&, const Params&)> run;
};
using OpTable = std::vector<Op>;

const OpTable& ops();
const Op* find_op(std::string_view name);
// Runs operation `name`; throws std::logic_error for an unknown name. An operation that
// changes something is recorded in the audit trail with env.actor once it succeeded.
json run_op(std::string_view name, const json& params, Env& env);

// --- the audit trail (admin/audit.cpp) ---
// True for operations that change the database (not lists, shows, checks or tests).
bool op_writes(const Op& op);
// What `op` is about to change, as a summary for the audit row's `before` (null if nothing
// identifiable exists yet, e.g. for creates).
json audit_before(Env& env, const Op& op, const Params& p);
// Appends the audit row for a successful `op`: object named from `p`, after = `result`,
// secrets and long texts summarized. Never throws: a failed write is logged, the change stands.
void audit_record(Env& env, const Op& op, const Params& p, const json& before, const json& result);

// Each area adds its operations to the table (admin/users.cpp, admin/keys.cpp, ...).
void add_user_ops(OpTable& t);
void add_auth_ops(OpTable& t);  // auth register|approve|reject, nodes register, health
void add_key_ops(OpTable& t);
void add_node_ops(OpTable& t);
void add_route_ops(OpTable& t);
void add_policy_ops(OpTable& t);
void add_policy_inspect_ops(OpTable& t);
void add_audit_ops(OpTable& t);        // audit.list (admin/audit.cpp)
void add_audit_check_ops(OpTable& t);  // audit.check (admin/audit_check.cpp)
void add_event_ops(OpTable& t);        // events.list (admin/events.cpp)
void add_signin_ops(OpTable& t);       // users|preauthkeys|apikeys unlock, signin.locks (admin/signin.cpp)

// --- events (admin/events.cpp) ---
// The event an audit action raises ("apikey.created", "policy.changed", "node.registered",
// "node.deleted"), or nullopt for one that raises none.
std::optional<std::string> event_kind(std::string_view action);
// Events at or after `since` with an ID above `after_id`, oldest first: audit_json plus "event".
json events_after(Env& env, TimePoint since, std::int64_t after_id);
// --since: a bare number N = after event N (resume); otherwise a duration back from `now`.
std::pair<TimePoint, std::int64_t> events_since(
    const std::string& since, TimePoint now);  // test, filter, peers, explain (admin/policy_inspect.cpp)

// A duration flag ("24h", "90d", "0" = never) as an expiration time from now, or an RFC 3339
// time as itself ("0001-01-01T00:00:00Z", headscale's zero time, = never).
std::optional<TimePoint> expiration_from(const std::string& text, TimePoint now);
// {"result": text}: what deletes and similar commands print.
json result_json(const std::string& text);
// policy.path's text; nullopt when `path` is empty (no policy: every node reaches every other).
// Throws StoreError naming the file when it cannot be read or is over policy::kMaxPolicyBytes.
std::optional<std::string> read_policy_file(const std::string& path);
// The policy in force (database row or policy.path file); nullopt when there is none.
std::optional<std::string> current_policy_text(Env& env);

}  // namespace hs::admin
