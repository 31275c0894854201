// Sign-in through an OpenID Connect provider (oidc.* in the config): GET /register/<id> sends the
// browser to the provider, GET /oidc/callback brings it back, and a login that passes every
// check approves the pending registration for the user the provider named, exactly as
// `hs-admin nodes register` would. The provider's endpoints are fetched on a worker thread:
// hs-control's event loop never waits for the network.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/net/asio.h"

#include <boost/asio/thread_pool.hpp>

#include "common/auth/discovery.h"
#include "common/auth/jose.h"
#include "common/auth/login.h"
#include "common/config/config.h"
#include "common/net/http_fetch.h"
#include "common/net/http_text.h"
#include "common/store/db.h"
#include "tools/hs-control/oidc_confirm.h"
#include "tools/hs-control/oidc_flows.h"

namespace hs::control {

// A page or a redirect; `set_cookie` is empty when none is set.
struct OidcReply {
    unsigned status = 200;
    std::string html;
    std::string location;
    std::string set_cookie;
    std::int64_t user_id = 0;  // a successful login: the user the device was approved for
};

// The HTTP answer: the page, the redirect and cookie, and headers that keep the callback's
// code out of Referer headers, caches and frames.
TextResponse oidc_http_response(const OidcReply& r);

// The connection sign-ins write through (OIDC and built-in accounts), as hs-admin's approvals
// are: the tailnet notices another connection's writes (SQLite's data_version). Null for
// ":memory:" databases, which one connection alone can see.
std::unique_ptr<Db> open_signin_db(const Config& cfg);

class OidcLogin {
public:
    OidcLogin(const Config& cfg, Db& db);
    ~OidcLogin();

    bool enabled() const { return cfg_.oidc.enabled(); }
    // Reads the client secret and fetches the provider's metadata and keys, blocking: called at
    // start before anything is served. Throws with the reason when the provider cannot be used
    // and oidc.only_start_if_oidc_is_available is true; otherwise logs it and tries again at
    // the first login.
    void start();

    // GET /register/<id> for a pending registration: a redirect to the provider with a fresh
    // state, nonce and PKCE challenge, and the cookie binding the state to this browser.
    OidcReply begin(const std::string& auth_id, TimePoint now);
    // GET /oidc/callback: every check, then the page asking the person to confirm the device
    // (oidc_confirm.h). `target` is the request target, `cookies` its Cookie header; both must
    // outlive the call (the caller awaits it).
    boost::asio::awaitable<OidcReply> finish(const std::string& target, const std::string& cookies);
    // POST /register/confirm/<auth_id> from that page: with the token in both the form `body`
    // and the cookie, the approval, and a signin.succeeded audit row naming `peer` (the
    // client's "ip:port"). Anything else is refused with a page saying why.
    boost::asio::awaitable<OidcReply> confirm(const std::string& method, const std::string& auth_id,
                                              const std::string& body, const std::string& cookies,
                                              const std::string& peer);

private:
    struct Verified {
        auth::Identity who;
        TimePoint token_expiry{};
    };
    // Blocking steps, run on the worker pool.
    void discover();
    std::vector<auth::Jwk> fetch_keys();
    Verified authenticate(const std::string& code, const OidcFlow& flow);
    // oidc.oauth2: the access token, then the userinfo endpoint; no ID token is read.
    Verified authenticate_oauth2(const std::string& code, const OidcFlow& flow, const auth::ProviderMetadata& p);
    // The token request, with the client's secret as the provider takes it.
    HttpResponse redeem(const std::string& code, const OidcFlow& flow, const auth::ProviderMetadata& p);
    OidcReply approve(const OidcFlow& flow, const Verified& v, TimePoint now, const std::string& peer);
    // After every check of the callback: holds the sign-in and answers with the confirmation page.
    OidcReply ask_confirmation(const OidcFlow& flow, const Verified& v, TimePoint now);
    // oidc.use_expiry_from_token: waits (30 s at most) for the client to get its node from the
    // approved registration, then gives that node the ID token's expiry.
    boost::asio::awaitable<void> apply_token_expiry(std::string auth_id, std::int64_t user_id, TimePoint expiry);
    std::string redirect_uri() const;

    Db& db() { return own_db_ ? *own_db_ : shared_db_; }

    const Config& cfg_;
    Db& shared_db_;
    // Logins are written through a connection of their own, as hs-admin's approvals are: the
    // tailnet notices another connection's writes (SQLite's data_version) and reloads the
    // user, whose groups the policy may name. Null for ":memory:" databases, which one
    // connection alone can see.
    std::unique_ptr<Db> own_db_;
    std::string client_secret_;
    boost::asio::thread_pool pool_{1};
    OidcFlows flows_;  // the event loop's alone
    struct Confirmable {
        OidcFlow flow;
        Verified verified;
    };
    OidcConfirmations<Confirmable> confirmations_;  // the event loop's alone

    std::mutex mu_;  // guards what the worker writes and the loop reads
    std::optional<auth::ProviderMetadata> provider_;
    std::vector<auth::Jwk> keys_;
    TimePoint keys_fetched_{};
    bool discovering_ = false;
};

}  // namespace hs::control
