// The REST API's request bodies and queries, as hs-control handles them once the API key is
// checked: headscale's /api/v1 (common/admin/headscale_api.cpp) and hs's own /api/hs/v1
// (tools/hs-control/api.cpp, native_api), on an in-memory database holding two users, keys, a
// node with routes and a policy. Any bytes must get an answer, never an exception; and never
// 500 or 503: bad input is the client's error (400/404), not an internal one, and an in-memory
// database is never unavailable.
//
// Input: byte 0 picks the API (bit 0) and the route (the rest), byte 1 the value of the path's
// variables; the remaining bytes are "QUERY\nBODY" (all body when there is no newline).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/admin/headscale_api.h"
#include "common/admin/ops.h"
#include "common/base/keys.h"
#include "common/store/db.h"
#include "common/store/store.h"
#include "tools/hs-control/api.h"

namespace {

struct Route {
    std::string method, path;
};

// headscale v0.29.2's gateway routes as hs serves them (headscale_api.cpp's table).
const std::vector<Route> kHeadscale = {
    {"GET", "/api/v1/user"},
    {"POST", "/api/v1/user"},
    {"POST", "/api/v1/user/{}/rename/{}"},
    {"DELETE", "/api/v1/user/{}"},
    {"GET", "/api/v1/preauthkey"},
    {"POST", "/api/v1/preauthkey"},
    {"POST", "/api/v1/preauthkey/expire"},
    {"DELETE", "/api/v1/preauthkey"},
    {"GET", "/api/v1/apikey"},
    {"POST", "/api/v1/apikey"},
    {"POST", "/api/v1/apikey/expire"},
    {"DELETE", "/api/v1/apikey/{}"},
    {"GET", "/api/v1/node"},
    {"GET", "/api/v1/node/{}"},
    {"DELETE", "/api/v1/node/{}"},
    {"POST", "/api/v1/node/{}/expire"},
    {"POST", "/api/v1/node/{}/rename/{}"},
    {"POST", "/api/v1/node/{}/tags"},
    {"POST", "/api/v1/node/{}/approve_routes"},
    {"POST", "/api/v1/node/backfillips"},
    {"POST", "/api/v1/node/register"},
    {"POST", "/api/v1/auth/register"},
    {"POST", "/api/v1/auth/approve"},
    {"POST", "/api/v1/auth/reject"},
    {"GET", "/api/v1/policy"},
    {"PUT", "/api/v1/policy"},
    {"POST", "/api/v1/policy/check"},
    {"GET", "/api/v1/health"},
};

// hs's own routes: every operation of ops.h under /api/hs/v1, its {variables} as "{}".
std::vector<Route> native_routes() {
    std::vector<Route> out;
    for (const auto& op : hs::admin::ops()) {
        std::string p = "/api/hs/v1" + op.path.substr(std::string_view("/api/v1").size());
        std::string q;
        for (std::size_t i = 0; i < p.size(); ++i) {
            if (p[i] != '{') {
                q += p[i];
                continue;
            }
            q += "{}";
            i = p.find('}', i);
        }
        out.push_back({op.method, q});
    }
    return out;
}

// Values for the path's variables: existing and missing IDs, names, key prefixes, junk.
const std::vector<std::string> kVars = {"1",     "2",     "3", "0",   "-1",   "99999999999999999999",
                                        "alice", "x%2Fy", "",  "%00", "web-1"};

std::string fill(const std::string& path, const std::string& v) {
    std::string out;
    for (std::size_t i = 0; i < path.size(); ++i) {
        if (path.compare(i, 2, "{}") == 0) {
            out += v;
            ++i;
        } else {
            out += path[i];
        }
    }
    return out;
}

hs::Key32 fixed_key(std::uint8_t b) {
    hs::Key32 k;
    k.fill(b);
    return k;
}

// The database each input starts from: every request sees the same tailnet.
void seed(hs::Db& db) {
    const auto alice = hs::store::create_user(db, "alice", "Alice", "alice@example.com");
    hs::store::create_user(db, "bob");
    hs::store::create_preauth_key(db, alice.id, true, false, std::nullopt, {});
    hs::store::create_api_key(db, std::nullopt);
    hs::Node n;
    n.machine_key = hs::key_text(hs::kMachinePrefix, fixed_key(1));
    n.node_key = hs::key_text(hs::kNodePrefix, fixed_key(2));
    n.hostname = n.given_name = "web-1";
    n.user_id = alice.id;
    n.register_method = "authkey";
    n.ipv4 = "100.64.0.1";
    n.ipv6 = "fd7a:115c:a1e0::1";
    n.host_info = {{"RoutableIPs", {"10.0.0.0/24", "0.0.0.0/0", "::/0"}}};
    n.approved_routes = {"10.0.0.0/24"};
    n.created_at = n.updated_at = hs::Clock::now();
    hs::store::insert_node(db, n);
    hs::store::insert_policy(db, R"({"acls": [{"action": "accept", "src": ["alice@"], "dst": ["*:*"]}]})");
}

hs::Config config() {
    hs::Config cfg;
    cfg.server_url = "http://127.0.0.1:8080";
    cfg.prefix_v4 = "100.64.0.0/10";
    cfg.prefix_v6 = "fd7a:115c:a1e0::/48";
    cfg.dns.base_domain = "hs.test";
    cfg.policy_mode = "database";
    return cfg;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool quiet = (spdlog::set_level(spdlog::level::off), true);
    (void)quiet;
    static const auto native = native_routes();
    static const auto cfg = config();
    if (size < 2) return 0;
    const bool hs_api = data[0] & 1;
    const auto& table = hs_api ? native : kHeadscale;
    const auto& route = table[(data[0] >> 1) % table.size()];
    const auto path = fill(route.path, kVars[data[1] % kVars.size()]);
    const std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
    const auto nl = rest.find('\n');
    const auto query = nl == std::string_view::npos ? std::string_view() : rest.substr(0, nl);
    const std::string body(nl == std::string_view::npos ? rest : rest.substr(nl + 1));

    hs::Db db(":memory:");
    seed(db);
    hs::admin::Env env{db, cfg, hs::Clock::now()};
    env.actor = "apikey:1";
    int status = 0;
    std::string reply;
    if (hs_api) {
        auto r = hs::control::native_api(env, route.method, path, query, body);
        status = r.status, reply = std::move(r.body);
    } else {
        auto r = hs::admin::headscale_api(env, route.method, path, query, body);
        status = r.status, reply = std::move(r.body);
    }
    if (status == 500 || status == 503) {
        std::fprintf(stderr, "%s %s?%.*s answered %d: %s\n", route.method.c_str(), path.c_str(),
                     static_cast<int>(query.size()), query.data(), status, reply.c_str());
        std::abort();
    }
    return 0;
}
