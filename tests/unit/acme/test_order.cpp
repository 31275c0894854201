// The order state machine fed answers recorded from Pebble (shapes of RFC 8555 §7.1), including
// a badNonce retry, a refusal and a failed validation.
#include <catch2/catch.hpp>

#include "common/acme/order.h"

using namespace hs::acme;
using Kind = Action::Kind;
using json = nlohmann::json;
using Catch::Contains;

namespace {

const char* kDir = R"({"keyChange":"https://ca/rollover-account-key","meta":{"externalAccountRequired":false,
  "termsOfService":"data:text/plain,Do%20what%20thou%20wilt"},"newAccount":"https://ca/sign-me-up",
  "newNonce":"https://ca/nonce-plz","newOrder":"https://ca/order-plz","renewalInfo":"https://ca/draft-ietf-acme-ari-03/renewalInfo",
  "revokeCert":"https://ca/revoke-cert"})";

HttpResponse resp(int status, std::string body, std::string nonce = "", std::string location = "",
                  std::string retry = "") {
    return HttpResponse{status, std::move(location), std::move(nonce), std::move(retry), std::move(body)};
}

// The protected header and payload of a signed request.
std::pair<json, std::string> open(const Action& a) {
    const auto jws = json::parse(a.request.body);
    return {json::parse(b64url_decode(jws["protected"].get<std::string>())),
            b64url_decode(jws["payload"].get<std::string>())};
}

std::string authz(const char* status, const char* extra = "") {
    return std::string(R"({"status":")") + status + R"(","identifier":{"type":"dns","value":"hs.example"},"challenges":[
      {"type":"dns-01","url":"https://ca/chalZ/d1","token":"tokD","status":"pending"},
      {"type":"http-01","url":"https://ca/chalZ/h1","token":"tokH","status":"pending"},
      {"type":"tls-alpn-01","url":"https://ca/chalZ/t1","token":"tokT","status":"pending")" +
           extra + "}]}";
}

const char* kPendingOrder = R"({"status":"pending","identifiers":[{"type":"dns","value":"hs.example"}],
  "authorizations":["https://ca/authZ/a1"],"finalize":"https://ca/finalize-order/o1"})";

struct Run {
    EcKey account = EcKey::generate();
    Order order;
    explicit Run(ChallengeType t)
        : order(OrderSettings{"https://ca/dir", "ops@hs.example", {"hs.example"}, t, 3}, account, EcKey::generate()) {}

    // Directory, nonce, account, new order: returns the action after the order is created.
    Action to_authz() {
        Action a = order.start();
        REQUIRE(a.kind == Kind::Send);
        CHECK(a.request.method == "GET");
        CHECK(a.request.url == "https://ca/dir");
        a = order.on_response(resp(200, kDir));
        CHECK(a.request.method == "HEAD");
        CHECK(a.request.url == "https://ca/nonce-plz");
        a = order.on_response(resp(200, "", "nonce-1"));
        CHECK(a.request.url == "https://ca/sign-me-up");
        auto [h, payload] = open(a);
        CHECK(h["nonce"] == "nonce-1");
        CHECK(h["jwk"] == account.jwk());
        CHECK(json::parse(payload)["contact"][0] == "mailto:ops@hs.example");
        CHECK(json::parse(payload)["termsOfServiceAgreed"] == true);
        a = order.on_response(resp(201, R"({"status":"valid"})", "nonce-2", "https://ca/my-account/1"));
        CHECK(a.request.url == "https://ca/order-plz");
        std::tie(h, payload) = open(a);
        CHECK(h["kid"] == "https://ca/my-account/1");
        CHECK(h["nonce"] == "nonce-2");
        CHECK(json::parse(payload)["identifiers"][0]["value"] == "hs.example");
        a = order.on_response(resp(201, kPendingOrder, "nonce-3", "https://ca/my-order/o1"));
        CHECK(a.request.url == "https://ca/authZ/a1");
        CHECK(open(a).second == "");  // POST-as-GET
        return a;
    }

    // Up to the first authorization, answered pending: the challenge to publish.
    Action to_publish() {
        to_authz();
        Action a = order.on_response(resp(200, authz("pending"), "nonce-4"));
        REQUIRE(a.kind == Kind::Publish);
        CHECK(a.challenge.hostname == "hs.example");
        return a;
    }
};

}  // namespace

TEST_CASE("order: HTTP-01 from directory to certificate") {
    Run run(ChallengeType::Http01);
    Action a = run.to_publish();
    CHECK(a.challenge.type == ChallengeType::Http01);
    CHECK(a.challenge.token == "tokH");
    CHECK(a.challenge.key_authorization == "tokH." + run.account.thumbprint());
    a = run.order.on_published();
    CHECK(a.request.url == "https://ca/chalZ/h1");
    CHECK(open(a).second == "{}");
    a = run.order.on_response(resp(200, R"({"type":"http-01","status":"processing"})", "nonce-5", "", "2"));
    REQUIRE(a.kind == Kind::Wait);
    CHECK(a.wait == std::chrono::seconds(2));
    a = run.order.on_waited();
    CHECK(a.request.url == "https://ca/authZ/a1");
    a = run.order.on_response(resp(200, authz("pending"), "nonce-6"));
    REQUIRE(a.kind == Kind::Wait);  // still validating: poll again, do not publish twice
    a = run.order.on_waited();
    a = run.order.on_response(resp(200, authz("valid"), "nonce-7"));
    REQUIRE(a.kind == Kind::Send);
    CHECK(a.request.url == "https://ca/finalize-order/o1");
    CHECK(open(a).first["nonce"] == "nonce-7");
    CHECK_FALSE(json::parse(open(a).second)["csr"].get<std::string>().empty());
    a = run.order.on_response(resp(200, R"({"status":"processing"})", "nonce-8", "", "1"));
    REQUIRE(a.kind == Kind::Wait);
    a = run.order.on_waited();
    CHECK(a.request.url == "https://ca/my-order/o1");
    a = run.order.on_response(resp(200, R"({"status":"valid","certificate":"https://ca/certZ/c1"})", "nonce-9"));
    CHECK(a.request.url == "https://ca/certZ/c1");
    a = run.order.on_response(resp(200, "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n", "nonce-10"));
    CHECK(a.kind == Kind::Done);
    CHECK(run.order.certificate_chain().find("BEGIN CERTIFICATE") != std::string::npos);
    CHECK(run.order.account_url() == "https://ca/my-account/1");
}

TEST_CASE("order: TLS-ALPN-01 picks its challenge; an authorization already valid goes to finalize") {
    Run run(ChallengeType::TlsAlpn01);
    Action a = run.to_publish();
    CHECK(a.challenge.type == ChallengeType::TlsAlpn01);
    CHECK(a.challenge.token == "tokT");

    Run again(ChallengeType::TlsAlpn01);
    again.to_authz();
    a = again.order.on_response(resp(200, authz("valid"), "n"));
    CHECK(a.request.url == "https://ca/finalize-order/o1");
}

TEST_CASE("order: badNonce is retried with the fresh nonce, same request") {
    Run run(ChallengeType::Http01);
    Action first = run.to_authz();
    const char* bad =
        R"({"type":"urn:ietf:params:acme:error:badNonce","detail":"JWS has an invalid anti-replay nonce"})";
    Action a = run.order.on_response(resp(400, bad, "fresh"));
    REQUIRE(a.kind == Kind::Send);
    CHECK(a.request.url == first.request.url);
    CHECK(open(a).first["nonce"] == "fresh");
}

TEST_CASE("order: refusals and failed validations say what the server said") {
    Run run(ChallengeType::Http01);
    Action a = run.order.start();
    a = run.order.on_response(resp(200, kDir));
    a = run.order.on_response(resp(200, "", "n1"));
    a = run.order.on_response(resp(201, "{}", "n2", "https://ca/my-account/1"));
    a = run.order.on_response(resp(
        400,
        R"({"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"Order included a blocked identifier","status":400})"));
    REQUIRE(a.kind == Kind::Failed);
    CHECK_THAT(a.error, Contains("new order") && Contains("HTTP 400") && Contains("rejectedIdentifier") &&
                            Contains("blocked identifier"));

    Run v(ChallengeType::Http01);
    v.to_publish();
    a = v.order.on_published();
    a = v.order.on_response(resp(200, "{}", "n"));
    a = v.order.on_waited();
    a = v.order.on_response(resp(200, authz("invalid", R"(,"error":{"type":"urn:ietf:params:acme:error:connection",
        "detail":"Connection refused"})"),
                                 "n"));
    REQUIRE(a.kind == Kind::Failed);
    CHECK_THAT(a.error, Contains("hs.example is invalid") && Contains("Connection refused"));

    Run none(ChallengeType::TlsAlpn01);
    none.to_authz();
    a = none.order.on_response(resp(200, R"({"status":"pending","identifier":{"value":"hs.example"},
        "challenges":[{"type":"http-01","url":"u","token":"t"}]})",
                                    "n"));
    REQUIRE(a.kind == Kind::Failed);
    CHECK_THAT(a.error, Contains("no tls-alpn-01 challenge") && Contains("offered: http-01"));

    Order bad(OrderSettings{"https://ca/dir", "", {"x"}}, EcKey::generate(), EcKey::generate());
    bad.start();
    a = bad.on_response(resp(200, "<html>not json</html>"));
    REQUIRE(a.kind == Kind::Failed);
    CHECK_THAT(a.error, Contains("not an ACME directory"));
}

TEST_CASE("order: polling stops after max_polls") {
    Run run(ChallengeType::Http01);  // max_polls 3
    run.to_publish();
    Action a = run.order.on_published();
    a = run.order.on_response(resp(200, "{}", "n"));
    for (int i = 0; i < 3; ++i) {
        REQUIRE(a.kind == Kind::Wait);
        a = run.order.on_waited();
        a = run.order.on_response(resp(200, authz("pending"), "n"));
    }
    REQUIRE(a.kind == Kind::Failed);
    CHECK_THAT(a.error, Contains("still not done after 3 polls"));
}

TEST_CASE("parse_challenge_type: headscale's spellings") {
    CHECK(parse_challenge_type("HTTP-01") == ChallengeType::Http01);
    CHECK(parse_challenge_type("tls-alpn-01") == ChallengeType::TlsAlpn01);
    CHECK_THROWS_WITH(parse_challenge_type("DNS-01"), Contains("expected HTTP-01 or TLS-ALPN-01"));
}

TEST_CASE("order: answers that are not JSON objects fail with a message, never an exception") {
    for (const char* body : {"null", "[1,2]", "\"text\"", "{\"status\":\"pending\",\"challenges\":{}}"}) {
        Run run(ChallengeType::Http01);
        run.to_authz();
        Action a = run.order.on_response(resp(200, body, "n"));
        REQUIRE(a.kind == Kind::Failed);
        CHECK_THAT(a.error, Contains("authorization"));
    }
}
