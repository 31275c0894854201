#include "common/acme/order.h"

#include <algorithm>
#include <cctype>

#include "common/acme/certs.h"

namespace hs::acme {
namespace {

using json = nlohmann::json;
constexpr int kMaxBadNonces = 5;  // RFC 8555 §6.5: a client retries a badNonce with the fresh nonce

const char* step_name(int state) {
    static const char* names[] = {"directory",     "new nonce",           "new account",          "new order",
                                  "authorization", "challenge",           "authorization status", "finalize",
                                  "order status",  "certificate download"};
    return names[state];
}

json parse_json(const std::string& body) {
    json j = json::parse(body, nullptr, false);
    return j.is_object() ? j : json();
}

// Members of answers that may be anything: a missing member, or one of the wrong type, reads
// as empty (the fuzz target found json::value() throwing on a null answer).
std::string str(const json& j, const char* key) {
    if (!j.is_object()) return {};
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
json member(const json& j, const char* key) {
    if (!j.is_object()) return json::object();
    const auto it = j.find(key);
    return it != j.end() && it->is_object() ? *it : json::object();
}
json list(const json& j, const char* key) {
    if (!j.is_object()) return json::array();
    const auto it = j.find(key);
    return it != j.end() && it->is_array() ? *it : json::array();
}

// "HTTP 403 urn:...:rejectedIdentifier: detail" from an RFC 7807 problem document.
std::string problem_text(const HttpResponse& r) {
    const json p = parse_json(r.body);
    std::string out = "HTTP " + std::to_string(r.status);
    if (const auto type = str(p, "type"); !type.empty()) out += " " + type;
    if (const auto detail = str(p, "detail"); !detail.empty()) out += ": " + detail;
    return out;
}

}  // namespace

ChallengeType parse_challenge_type(const std::string& s) {
    std::string u;
    for (const char c : s) u += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (u == "HTTP-01") return ChallengeType::Http01;
    if (u == "TLS-ALPN-01") return ChallengeType::TlsAlpn01;
    throw AcmeError("unknown challenge type \"" + s + "\" (expected HTTP-01 or TLS-ALPN-01)");
}

const char* challenge_name(ChallengeType t) { return t == ChallengeType::Http01 ? "http-01" : "tls-alpn-01"; }

Order::Order(OrderSettings settings, EcKey account_key, EcKey certificate_key)
    : s_(std::move(settings)), key_(std::move(account_key)), cert_key_(std::move(certificate_key)) {}

Action Order::start() { return send(State::Directory, "GET", s_.directory_url, ""); }

Action Order::send(State next, std::string method, std::string url, std::string body) {
    state_ = next;
    Action a{.kind = Action::Kind::Send};
    a.request = {std::move(method), std::move(url), std::move(body)};
    return a;
}

Action Order::post(State next, const std::string& url, const std::string& payload) {
    last_url_ = url;
    last_payload_ = payload;
    // Only newAccount carries the key itself; every later request names the account (§6.2).
    const std::string kid = next == State::Account ? std::string() : kid_;
    return send(next, "POST", url, sign_request(key_, url, nonce_, kid, payload));
}

Action Order::fail(const std::string& what) {
    Action a{.kind = Action::Kind::Failed};
    a.error = std::string("ACME ") + step_name(static_cast<int>(state_)) + ": " + what;
    return a;
}

Action Order::wait(State then) {
    if (++polls_ > s_.max_polls) return fail("still not done after " + std::to_string(s_.max_polls) + " polls");
    after_wait_ = then;
    // Retry-After in seconds (RFC 8555 §8.2), held between 1 s and a minute; its date form is rare.
    long secs = 1;
    if (!retry_after_.empty() && retry_after_.size() < 7 &&
        std::all_of(retry_after_.begin(), retry_after_.end(), ::isdigit))
        secs = std::clamp(std::stol(retry_after_), 1L, 60L);
    Action a{.kind = Action::Kind::Wait};
    a.wait = std::chrono::seconds(secs);
    return a;
}

Action Order::on_waited() {
    if (after_wait_ == State::PollAuthz) return post(State::PollAuthz, authzs_[authz_index_], "");
    return post(State::PollOrder, order_url_, "");
}

Action Order::on_published() { return post(State::Challenge, challenge_url_, "{}"); }

Action Order::next_authz() {
    polls_ = 0;
    if (authz_index_ < authzs_.size()) return post(State::Authz, authzs_[authz_index_], "");
    return post(State::Finalize, finalize_url_, json{{"csr", b64url(make_csr(cert_key_, s_.hostnames))}}.dump());
}

Action Order::after_order(const json& order) {
    const std::string status = str(order, "status");
    if (status == "valid") {
        cert_url_ = str(order, "certificate");
        if (cert_url_.empty()) return fail("the valid order names no certificate");
        return post(State::Download, cert_url_, "");
    }
    if (status == "ready") {
        authz_index_ = authzs_.size();
        return next_authz();
    }
    if (status == "pending" && state_ == State::NewOrder) {
        finalize_url_ = str(order, "finalize");
        for (const auto& a : list(order, "authorizations"))
            if (a.is_string()) authzs_.push_back(a.get<std::string>());
        if (finalize_url_.empty() || authzs_.empty()) return fail("the order lacks its authorizations or finalize URL");
        authz_index_ = 0;
        return next_authz();
    }
    if (status == "processing" || status == "pending") return wait(State::PollOrder);
    const std::string detail = str(member(order, "error"), "detail");
    const std::string problem = detail.empty() ? "" : ": " + detail;
    return fail("the order is " + (status.empty() ? "unreadable" : status) + problem);
}

Action Order::on_authz(const json& authz) {
    const std::string status = str(authz, "status");
    const std::string host = str(member(authz, "identifier"), "value");
    if (status == "valid") {
        ++authz_index_;
        return next_authz();
    }
    const json challenges = list(authz, "challenges");
    if (status == "pending" && state_ == State::Authz) {
        std::string offered;
        for (const auto& c : challenges) {
            const std::string type = str(c, "type");
            offered += (offered.empty() ? "" : ", ") + type;
            if (type != challenge_name(s_.challenge)) continue;
            pending_ = {s_.challenge, host, str(c, "token"), ""};
            challenge_url_ = str(c, "url");
            if (pending_.token.empty() || challenge_url_.empty()) return fail("challenge without token or URL");
            pending_.key_authorization = pending_.token + "." + key_.thumbprint();
            Action a{.kind = Action::Kind::Publish};
            a.challenge = pending_;
            return a;
        }
        return fail("the server offers no " + std::string(challenge_name(s_.challenge)) + " challenge for " + host +
                    " (offered: " + offered + ")");
    }
    if (status == "pending") return wait(State::PollAuthz);
    // The validation error is on the challenge we answered (RFC 8555 §7.1.5).
    std::string detail;
    for (const auto& c : challenges)
        if (const json e = member(c, "error"); !e.empty()) detail = str(e, "type") + ": " + str(e, "detail");
    return fail(host + " is " + (status.empty() ? "unreadable" : status) + (detail.empty() ? "" : " (" + detail + ")"));
}

Action Order::on_response(const HttpResponse& r) {
    if (!r.replay_nonce.empty()) nonce_ = r.replay_nonce;
    retry_after_ = r.retry_after;
    const bool posted = state_ != State::Directory && state_ != State::Nonce;
    if (r.status >= 400) {
        if (posted && str(parse_json(r.body), "type") == "urn:ietf:params:acme:error:badNonce" &&
            ++bad_nonces_ <= kMaxBadNonces)
            return post(state_, last_url_, last_payload_);
        return fail(problem_text(r));
    }
    if (state_ == State::Download) {
        if (r.body.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
            return fail("the answer holds no PEM certificate");
        chain_ = r.body;
        return Action{.kind = Action::Kind::Done};
    }
    if (state_ == State::Nonce) {
        if (nonce_.empty()) return fail("no Replay-Nonce header");
        json payload{{"termsOfServiceAgreed", true}};
        if (!s_.email.empty()) payload["contact"] = json::array({"mailto:" + s_.email});
        return post(State::Account, dir_["newAccount"], payload.dump());
    }
    const json j = parse_json(r.body);
    switch (state_) {
        case State::Directory:
            for (const char* k : {"newNonce", "newAccount", "newOrder"}) {
                dir_[k] = str(j, k);
                if (dir_[k].empty()) return fail(s_.directory_url + " is not an ACME directory (no " + k + ")");
            }
            return send(State::Nonce, "HEAD", dir_["newNonce"], "");
        case State::Account: {
            if (r.location.empty()) return fail("no account URL (Location header)");
            kid_ = r.location;
            json ids = json::array();
            for (const auto& h : s_.hostnames) ids.push_back({{"type", "dns"}, {"value", h}});
            return post(State::NewOrder, dir_["newOrder"], json{{"identifiers", ids}}.dump());
        }
        case State::NewOrder:
            if (r.location.empty()) return fail("no order URL (Location header)");
            order_url_ = r.location;
            return after_order(j);
        case State::Authz:
        case State::PollAuthz: return on_authz(j);
        case State::Challenge: polls_ = 0; return wait(State::PollAuthz);
        case State::Finalize:
        case State::PollOrder: return after_order(j);
        default: return fail("unexpected answer");
    }
}

}  // namespace hs::acme
