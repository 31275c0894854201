// One certificate issuance over RFC 8555 as a state machine without I/O: it says which request
// to send, which challenge answer to publish and how long to wait; the caller does each and
// feeds the outcome back. Directory, nonce, account (found or created by newAccount), order,
// authorization, challenge, finalize with a CSR, polling, download.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "common/acme/jws.h"

namespace hs::acme {

enum class ChallengeType { Http01, TlsAlpn01 };
// "HTTP-01" / "TLS-ALPN-01" (headscale's spelling, case-insensitive) or throws AcmeError.
ChallengeType parse_challenge_type(const std::string& s);
const char* challenge_name(ChallengeType t);  // RFC 8555's "http-01" / RFC 8737's "tls-alpn-01"

struct HttpRequest {
    std::string method;  // GET, HEAD or POST (POST bodies are application/jose+json)
    std::string url;
    std::string body;
};
struct HttpResponse {
    int status = 0;
    std::string location, replay_nonce, retry_after;  // the headers ACME uses
    std::string body;
};

// What a challenge needs published: for HTTP-01 the body `key_authorization` at
// /.well-known/acme-challenge/<token>; for TLS-ALPN-01 a tls_alpn_certificate for `hostname`
// answered to ClientHellos offering "acme-tls/1".
struct Challenge {
    ChallengeType type = ChallengeType::Http01;
    std::string hostname, token, key_authorization;
};

struct Action {
    enum class Kind { Send, Publish, Wait, Done, Failed };
    Kind kind = Kind::Failed;
    HttpRequest request;               // Send
    Challenge challenge;               // Publish
    std::chrono::milliseconds wait{};  // Wait
    std::string error;                 // Failed: says which step failed and what the server said
};

struct OrderSettings {
    std::string directory_url;
    std::string email;  // empty: an account without contact
    std::vector<std::string> hostnames;
    ChallengeType challenge = ChallengeType::Http01;
    int max_polls = 60;  // per authorization and for the order; Retry-After or 1 s apart
};

class Order {
public:
    Order(OrderSettings settings, EcKey account_key, EcKey certificate_key);
    Action start();
    Action on_response(const HttpResponse& r);
    Action on_published();
    Action on_waited();
    // After Done: the PEM chain, leaf first, as the server sent it.
    const std::string& certificate_chain() const { return chain_; }
    const std::string& account_url() const { return kid_; }

private:
    enum class State {
        Directory,
        Nonce,
        Account,
        NewOrder,
        Authz,
        Challenge,
        PollAuthz,
        Finalize,
        PollOrder,
        Download
    };
    Action send(State next, std::string method, std::string url, std::string body);
    Action post(State next, const std::string& url, const std::string& payload);
    Action fail(const std::string& what);
    Action next_authz();
    Action after_order(const nlohmann::json& order);
    Action on_authz(const nlohmann::json& authz);
    Action wait(State then);

    OrderSettings s_;
    EcKey key_, cert_key_;
    State state_ = State::Directory, after_wait_ = State::Directory;
    std::map<std::string, std::string> dir_;
    std::string nonce_, kid_, order_url_, finalize_url_, cert_url_, challenge_url_, chain_;
    std::vector<std::string> authzs_;
    std::size_t authz_index_ = 0;
    int polls_ = 0, bad_nonces_ = 0;
    std::string last_url_, last_payload_;  // resent after a badNonce
    std::string retry_after_;
    Challenge pending_;
};

}  // namespace hs::acme
