// HuJSON, policy validation through the engine and the REST API's routing and authentication, on bytes and a
// temporary database (no sockets).
#include <catch2/catch.hpp>

#include <filesystem>

#include "common/admin/ops.h"
#include "common/admin/policy_input.h"
#include "common/base/hujson.h"
#include "tools/hs-control/api.h"

using namespace hs;
using Catch::Contains;

namespace {

struct ApiFixture {
    std::filesystem::path dir;
    std::unique_ptr<Db> db;
    Config cfg;
    std::string key;
    ApiFixture() {
        char tmpl[] = "/tmp/hs-unit-api-XXXXXX";
        dir = ::mkdtemp(tmpl);
        db = std::make_unique<Db>((dir / "db.sqlite").string());
        key = store::create_api_key(*db, std::nullopt).secret;
    }
    ~ApiFixture() { std::filesystem::remove_all(dir); }
    control::ApiReply call(const char* method, const char* target, const std::string& body = "",
                           std::string auth = "") {
        if (auth.empty()) auth = "Bearer " + key;
        return control::handle_api(*db, cfg, method, target, auth, body, Clock::now());
    }
};

}  // namespace

TEST_CASE("HuJSON: comments and trailing commas become spaces, strings stay") {
    const std::string text = "{\n  // c\n  \"a\": [1, 2,], /* x, */\n  \"s\": \"// not, a comment,]\",\n}";
    const auto out = hujson_standardize(text);
    CHECK(out.size() == text.size());
    const auto j = nlohmann::json::parse(out);
    CHECK(j["a"] == nlohmann::json({1, 2}));
    CHECK(j["s"] == "// not, a comment,]");
    CHECK(parse_hujson("[1,\n// end\n]") == nlohmann::json({1}));
    CHECK(parse_hujson(R"({"q": "a\"b",})")["q"] == "a\"b");
}

TEST_CASE("HuJSON: errors name the line and column of the original text") {
    CHECK_THROWS_WITH(parse_hujson("{\n  /* note */ \"a\" 1\n}"), Contains("line 2, column 18"));
    CHECK_THROWS_WITH(parse_hujson("{ /* open"), Contains("unterminated /* comment"));
    CHECK_THROWS_WITH(parse_hujson("{\"a\": \"open}"), Contains("unterminated string"));
    CHECK_THROWS_AS(parse_hujson("[1,,]"), HujsonError);
}

TEST_CASE("API: policy check compiles against the tailnet and names every problem by line:column") {
    ApiFixture f;
    store::create_user(*f.db, "alice");
    const nlohmann::json bad = {{"policy",
                                 "{\"groups\": {\"g\": [\"a@\"]},\n \"acls\": [{\"action\": \"accept\", \"src\": "
                                 "[\"bob@\"], \"dst\": [\"*:70000\"]}]}"}};
    const auto r = f.call("POST", "/api/hs/v1/policy/check", bad.dump());
    CHECK(r.status == 400);
    CHECK_THAT(r.body, Contains("invalid policy"));
    CHECK_THAT(r.body, Contains("1:13: "));  // the group name, with its place
    CHECK_THAT(r.body, Contains("70000"));
    const nlohmann::json good = {{"policy", R"({"acls": [{"action": "accept", "src": ["alice@"], "dst": ["*:22"]}]})"}};
    CHECK(f.call("POST", "/api/hs/v1/policy/check", good.dump()).status == 200);
    // Like Tailscale, a rule may name a user who has not joined yet; a test cannot: only the
    // engine, seeing the tailnet's users, knows.
    const nlohmann::json unknown = {{"policy", R"({"acls": [{"action": "accept", "src": ["nobody@"], "dst": ["*:22"]}],
                                                   "tests": [{"src": "nobody@", "deny": ["10.0.0.1:22"]}]})"}};
    CHECK(f.call("POST", "/api/hs/v1/policy/check", unknown.dump()).status == 400);
    CHECK(f.call("GET", "/api/hs/v1/policy/explain?src=alice@&dst=10.0.0.1:22").status == 404);  // alice has no node
}

TEST_CASE("policy_input: the store's users and nodes as the engine's records") {
    ApiFixture f;
    const auto alice = store::create_user(*f.db, "alice", "Alice", "alice@example.com");
    Node n;
    n.machine_key = "mkey:1";
    n.node_key = "nodekey:1";
    n.given_name = "r1";
    n.hostname = "router";
    n.user_id = alice.id;
    n.ipv4 = "100.64.0.1";
    n.host_info = {{"RoutableIPs", {"10.0.0.0/24", "0.0.0.0/0"}}};
    n.approved_routes = {"10.0.0.0/24"};
    store::insert_node(*f.db, n);
    n.machine_key = "mkey:2";
    n.node_key = "nodekey:2";
    n.given_name = "tagged";
    n.ipv4 = "100.64.0.2";
    n.tags = {"tag:web"};  // the row keeps its former owner; the policy must not see one
    store::insert_node(*f.db, n);
    const auto in = admin::policy_input(*f.db);
    REQUIRE(in.users.size() == 1);
    CHECK(in.users[0].email == "alice@example.com");
    REQUIRE(in.nodes.size() == 2);
    CHECK(in.nodes[0].user_id == static_cast<std::uint64_t>(alice.id));
    CHECK(in.nodes[0].ipv4 == "100.64.0.1");
    CHECK(in.nodes[0].ipv6.empty());
    CHECK(in.nodes[0].announced_routes == std::vector<std::string>{"10.0.0.0/24", "0.0.0.0/0"});
    CHECK(in.nodes[0].approved_routes == std::vector<std::string>{"10.0.0.0/24"});
    CHECK(in.nodes[1].user_id == 0);
    CHECK(in.nodes[1].tags == std::vector<std::string>{"tag:web"});
    CHECK(admin::problem_lines({{3, 7, "x"}, {0, 0, "y"}}) == "3:7: x\ny");
}

TEST_CASE("API: bearer keys are checked before anything runs") {
    ApiFixture f;
    CHECK(f.call("POST", "/api/hs/v1/user", R"({"name": "alice"})", "Bearer nope").status == 401);
    CHECK(f.call("POST", "/api/hs/v1/user", R"({"name": "alice"})", "Basic " + f.key).status == 401);
    auto wrong = f.key;
    wrong.back() = wrong.back() == '0' ? '1' : '0';
    CHECK(f.call("POST", "/api/hs/v1/user", R"({"name": "alice"})", "Bearer " + wrong).status == 401);
    const auto expired = store::create_api_key(*f.db, Clock::now() - std::chrono::seconds(1)).secret;
    CHECK(f.call("POST", "/api/hs/v1/user", R"({"name": "alice"})", "Bearer " + expired).status == 401);
    CHECK(store::list_users(*f.db).empty());
    const auto ok = f.call("POST", "/api/hs/v1/user", R"({"name": "alice"})");
    CHECK(ok.status == 200);
    CHECK(nlohmann::json::parse(ok.body)["name"] == "alice");
}

TEST_CASE("API: routes, parameters and status codes") {
    ApiFixture f;
    f.call("POST", "/api/hs/v1/user", R"({"name": "alice"})");
    Node n;
    n.machine_key = "mkey:1";
    n.node_key = "nodekey:1";
    n.given_name = "r1";
    n.user_id = 1;
    n.host_info = {{"RoutableIPs", {"10.0.0.0/24"}}};
    store::insert_node(*f.db, n);
    // A literal segment wins over {id}: /node/routes is the routes listing, not node "routes".
    const auto lr = f.call("GET", "/api/hs/v1/node/routes");
    REQUIRE(lr.status == 200);
    CHECK(nlohmann::json::parse(lr.body).size() == 1);
    CHECK(f.call("GET", "/api/hs/v1/node/1").status == 200);
    CHECK(f.call("GET", "/api/hs/v1/node/2").status == 404);
    CHECK(f.call("GET", "/api/hs/v1/node/x").status == 400);
    CHECK(f.call("PATCH", "/api/hs/v1/node/1").status == 405);
    CHECK(f.call("GET", "/api/hs/v1/nothing").status == 404);
    CHECK(f.call("POST", "/api/hs/v1/node/1/approve_routes", "[]").status == 400);
    const auto ap = f.call("POST", "/api/hs/v1/node/1/approve_routes", R"({"routes": ["10.0.0.0/24", "::/0"]})");
    REQUIRE(ap.status == 200);
    CHECK(nlohmann::json::parse(ap.body)["approved_routes"] == nlohmann::json({"0.0.0.0/0", "10.0.0.0/24", "::/0"}));
    CHECK(store::find_node(*f.db, 1)->approved_routes.size() == 3);
    // Query parameters arrive as strings; the operations take both forms.
    const auto q = f.call("GET", "/api/hs/v1/routes?node=1");
    REQUIRE(q.status == 200);
    CHECK(nlohmann::json::parse(q.body).size() == 3);
    const auto bad = f.call("POST", "/api/hs/v1/routes/approve", R"({"node": 1, "routes": "10.0.0.1/24"})");
    CHECK(bad.status == 400);
    CHECK_THAT(bad.body, Contains("host bits are set"));
    // The same operation locally gives the same bytes.
    admin::Env env{*f.db, f.cfg, Clock::now()};
    CHECK(admin::run_op("routes.list", {{"node", 1}}, env).dump() == q.body);
}

TEST_CASE("API: /api/v1 speaks headscale's wire format") {
    ApiFixture f;
    CHECK(f.call("GET", "/api/v1/user", "", "Bearer nope").status == 401);
    CHECK(f.call("GET", "/api/v1/user", "", "Bearer nope").body == "Unauthorized");
    const auto u = f.call("POST", "/api/v1/user",
                          R"({"name": "alice", "displayName": "Alice", "pictureUrl": "https://p.example/a.png"})");
    REQUIRE(u.status == 200);
    const auto uj = nlohmann::json::parse(u.body)["user"];
    CHECK(uj["id"] == "1");  // IDs as strings
    CHECK(uj["displayName"] == "Alice");
    CHECK(uj["profilePicUrl"] == "https://p.example/a.png");
    Node n;
    n.machine_key = "mkey:1";
    n.node_key = "nodekey:1";
    n.hostname = "Router One";
    n.given_name = "r1";
    n.user_id = 1;
    n.register_method = "authkey";
    n.host_info = {{"RoutableIPs", {"10.0.0.0/24", "10.9.0.0/16"}}};
    n.approved_routes = {"10.0.0.0/24"};
    store::insert_node(*f.db, n);
    const auto l = f.call("GET", "/api/v1/node?user=alice");
    REQUIRE(l.status == 200);
    const auto node = nlohmann::json::parse(l.body)["nodes"][0];
    CHECK(node["id"] == "1");
    CHECK(node["name"] == "Router One");
    CHECK(node["givenName"] == "r1");
    CHECK(node["user"]["name"] == "alice");
    CHECK(node["registerMethod"] == "REGISTER_METHOD_AUTH_KEY");
    CHECK(node["expiry"].is_null());
    CHECK(node["availableRoutes"] == nlohmann::json({"10.0.0.0/24", "10.9.0.0/16"}));
    // Listed: the primary routes (none: no hs-control elected any) and approved exit routes.
    CHECK(node["subnetRoutes"] == nlohmann::json::array());
    CHECK(node["preAuthKey"].is_null());
    // ExpireNode's fields arrive in the query; the answer is the node in its envelope.
    const auto e = f.call("POST", "/api/v1/node/1/expire?expiry=2031-01-02T03:04:05Z");
    REQUIRE(e.status == 200);
    CHECK(nlohmann::json::parse(e.body)["node"]["expiry"] == "2031-01-02T03:04:05Z");
    CHECK(nlohmann::json::parse(f.call("POST", "/api/v1/node/1/expire?disable_expiry=true").body)["node"]["expiry"]
              .is_null());
    // A pre-auth key: aclTags, a fixed expiration kept to the second, the secret shown once.
    const auto k =
        f.call("POST", "/api/v1/preauthkey", R"({"user": "1", "expiration": "2030-01-01T00:00:00Z", "aclTags": []})");
    REQUIRE(k.status == 200);
    const auto kj = nlohmann::json::parse(k.body)["preAuthKey"];
    CHECK(kj["expiration"] == "2030-01-01T00:00:00Z");
    CHECK(kj["aclTags"] == nlohmann::json::array());
    // Errors: grpc-gateway's body and status.
    const auto nf = nlohmann::json::parse(f.call("GET", "/api/v1/node/9").body);
    CHECK(nf["code"] == 5);
    CHECK(nf["details"] == nlohmann::json::array());
    CHECK(f.call("PATCH", "/api/v1/user").status == 501);
    CHECK(f.call("DELETE", "/api/v1/apikey/x?id=1").status == 400);  // id or prefix, not both
    // The native API is unchanged under /api/hs/v1.
    CHECK(nlohmann::json::parse(f.call("GET", "/api/hs/v1/node/1").body)["given_name"] == "r1");
}
