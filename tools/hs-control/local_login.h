// Sign-in with a built-in account (auth.local): GET /register/<id> shows a form (name,
// password, TOTP or recovery code), POST /register/<id> checks it and approves the pending
// registration for that user, exactly as `hs-admin nodes register` would. Passwords are
// checked with argon2id on a worker thread; attempts are limited per address and per account
// by hs-control's LoginGuard (stored lockouts, `hs-admin users unlock`) before any hash is
// computed.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/net/asio.h"

#include <boost/asio/thread_pool.hpp>

#include "common/auth/csrf.h"
#include "common/config/config.h"
#include "common/store/credentials.h"
#include "common/store/db.h"
#include "common/store/model.h"
#include "tools/hs-control/oidc_login.h"

namespace hs::control {

class LoginGuard;

class LocalLogin {
public:
    // `guard` (the server's) counts failures, locks accounts and writes the signin.* rows; it
    // must outlive this.
    LocalLogin(const Config& cfg, Db& db, LoginGuard& guard);
    ~LocalLogin();

    bool enabled() const { return cfg_.local_auth.enabled; }
    // Opens its own database connection (as OidcLogin does) and prepares the hash that
    // unknown names are checked against, so they take as long as known ones.
    void start();

    // GET /register/<id>: the form, with the CSRF cookie when the browser has none yet.
    OidcReply form(const std::string& auth_id, const std::string& cookies, bool oidc_too, TimePoint now);
    // POST /register/<id> with an application/x-www-form-urlencoded body. `peer` is the client
    // address ("ip:port", after trusted_proxies). Every argument must outlive the call.
    boost::asio::awaitable<OidcReply> submit(const std::string& auth_id, const std::string& body,
                                             const std::string& cookies, const std::string& peer);

private:
    struct Attempt;          // one POST, parsed (local_login.cpp)
    struct PasswordChange {  // a sign-in that passed but must set a new password first
        std::int64_t user_id = 0;
        std::string auth_id, method;
        TimePoint expires{};
    };
    boost::asio::awaitable<OidcReply> signin(Attempt& a);
    boost::asio::awaitable<OidcReply> change_password(Attempt& a);
    // The second step; nullopt when it passed (or is not needed), else the refusal page.
    std::optional<OidcReply> check_code(Attempt& a, const User& u, const store::LocalCredentials& c);
    OidcReply refuse(Attempt& a, const std::string& reason, const std::string& method, OidcReply page);
    OidcReply approve(Attempt& a, const User& u, const std::string& method);
    OidcReply form_again(const Attempt& a, const std::string& title, const std::string& alert, unsigned status);
    void audit(const Attempt& a, const std::string& action, const std::string& actor, const std::string& object,
               const nlohmann::json& after);

    Db& db() { return own_db_ ? *own_db_ : shared_db_; }

    const Config& cfg_;
    Db& shared_db_;
    std::unique_ptr<Db> own_db_;  // see OidcLogin: writes other connections notice
    auth::CsrfKeys csrf_;
    std::string dummy_hash_;
    boost::asio::thread_pool pool_{1};  // one hash at a time: 64 MiB each
    LoginGuard& guard_;
    std::map<std::string, PasswordChange> changes_;  // by change token; the event loop's alone
};

}  // namespace hs::control
