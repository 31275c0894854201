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
// Runs operation `name`; throws std::logic_error for an unknown name.
json run_op(std::string_view name, const json& params, Env& env);

// Each area adds its operations to the table (admin/users.cpp, admin/keys.cpp, ...).
void add_user_ops(OpTable& t);
void add_auth_ops(OpTable& t);  // auth register|approve|reject, nodes register, health
void add_key_ops(OpTable& t);
void add_node_ops(OpTable& t);
void add_route_ops(OpTable& t);
void add_policy_ops(OpTable& t);
void add_policy_inspect_ops(OpTable& t);  // test, filter, peers, explain (admin/policy_inspect.cpp)

// A duration flag ("24h", "90d", "0" = never) as an expiration time from now, or an RFC 3339
// time as itself ("0001-01-01T00:00:00Z", headscale's zero time, = never).
std::optional<TimePoint> expiration_from(const std::string& text, TimePoint now);
// {"result": text}: what deletes and similar commands print.
json result_json(const std::string& text);
// The policy in force (database row or policy.path file); nullopt when there is none.
std::optional<std::string> current_policy_text(Env& env);

}  // namespace hs::admin
