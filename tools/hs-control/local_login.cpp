#include "tools/hs-control/local_login.h"

#include <spdlog/spdlog.h>

#include "common/admin/signin.h"
#include "common/auth/password.h"
#include "common/auth/totp.h"
#include "common/base/netaddr.h"
#include "common/base/random.h"
#include "common/base/url.h"
#include "common/store/store.h"
#include "tools/hs-control/local_pages.h"
#include "tools/hs-control/login_guard.h"
#include "tools/hs-control/oidc_flows.h"
#include "tools/hs-control/oidc_pages.h"
#include "tools/hs-control/on_pool.h"
#include "tools/hs-control/pages.h"
#include "tools/hs-control/source_limits.h"

namespace hs::control {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

constexpr const char* kCookie = "hs_signin";
// The expired-password form is good for this long after the old password was accepted.
constexpr auto kChangeLifetime = std::chrono::minutes(10);
constexpr std::size_t kMaxChanges = 1000;

std::string field(const std::string& body, const char* key) { return query_value(body, key).value_or(""); }

}  // namespace

struct LocalLogin::Attempt {
    std::string auth_id, peer, source, cookie;
    std::string action, name, password, code, change, new_password, new_password2;
    std::optional<AuthRequest> request;
    TimePoint now{};
};

LocalLogin::LocalLogin(const Config& cfg, Db& db, LoginGuard& guard) : cfg_(cfg), shared_db_(db), guard_(guard) {}

LocalLogin::~LocalLogin() { pool_.join(); }

void LocalLogin::start() {
    if (!enabled()) return;
    own_db_ = open_signin_db(cfg_);
    const auto& la = cfg_.local_auth;
    dummy_hash_ = auth::hash_password(random_token(24), {static_cast<unsigned long long>(la.opslimit),
                                                         static_cast<std::size_t>(la.memlimit_mib) << 20});
    spdlog::info("built-in accounts: sign-in with a password on /register/<id>{}",
                 la.require_mfa ? ", a TOTP code required" : "");
}

OidcReply LocalLogin::form(const std::string& auth_id, const std::string& cookies, bool oidc_too, TimePoint now) {
    std::optional<AuthRequest> ar;
    if (!auth_id.empty() && auth_id.size() < 64) ar = store::find_auth_request(db(), auth_id);
    if (!ar || ar->expires_at <= now) return {404, register_page(auth_id, std::nullopt), "", ""};
    if (ar->status != "pending") return {409, register_page(auth_id, ar), "", ""};
    auto cookie = cookie_value(cookies, kCookie);
    std::string set_cookie;
    if (cookie.size() != 43) {
        cookie = auth::CsrfKeys::new_cookie();
        const bool secure = cfg_.server_url.rfind("https://", 0) == 0;
        set_cookie = std::string(kCookie) + "=" + cookie +
                     "; Path=/register/; HttpOnly; SameSite=Strict; Max-Age=3600" + (secure ? "; Secure" : "");
    }
    const SigninForm f{auth_id, ar->hostname, csrf_.token(auth_id, cookie), "",
                       "",      oidc_too,     register_command(auth_id)};
    return {200, signin_page("Sign in", f), "", set_cookie};
}

asio::awaitable<OidcReply> LocalLogin::submit(const std::string& auth_id, const std::string& body,
                                              const std::string& cookies, const std::string& peer) {
    Attempt a;
    a.auth_id = auth_id;
    a.peer = peer;
    a.source = peer_ip(peer);
    a.cookie = cookie_value(cookies, kCookie);
    a.now = Clock::now();
    for (auto [key, out] : {std::pair{"action", &a.action},
                            {"name", &a.name},
                            {"password", &a.password},
                            {"code", &a.code},
                            {"change", &a.change},
                            {"new_password", &a.new_password},
                            {"new_password2", &a.new_password2}})
        *out = field(body, key);
    if (!csrf_.check(auth_id, a.cookie, field(body, "csrf"))) {
        spdlog::warn("sign-in for registration {} from {} refused: missing or wrong CSRF token", auth_id, a.source);
        co_return OidcReply{403, form_expired_page(auth_id), "", ""};
    }
    if (!auth_id.empty() && auth_id.size() < 64) a.request = store::find_auth_request(db(), auth_id);
    if (!a.request || a.request->expires_at <= a.now || a.request->status != "pending")
        co_return OidcReply{
            410, oidc_bad_link_page("This device's registration request has expired or was already completed"), "", ""};
    if (const auto wait = guard_.throttled(LoginGuard::Kind::Password, peer, a.now))
        co_return OidcReply{429, slow_down_page(static_cast<long>(wait->count())), "", ""};
    if (a.action == "change") co_return co_await change_password(a);
    co_return co_await signin(a);
}

asio::awaitable<OidcReply> LocalLogin::signin(Attempt& a) {
    const auto user = a.name.empty() ? std::nullopt : store::find_user_by_name(db(), a.name);
    // Only existing accounts are locked: names nobody has cost the address alone, so guesses
    // cannot fill the lock table.
    const std::string key = user ? admin::lock_key_user(user->name) : "";
    if (const auto until = user ? guard_.locked(key, a.now) : std::nullopt) {
        guard_.refused_locked(LoginGuard::Kind::Password, a.peer, key, a.now);
        const auto minutes = std::chrono::ceil<std::chrono::minutes>(*until - a.now).count();
        co_return OidcReply{423, locked_page(format_time(*until), static_cast<long>(minutes)), "", ""};
    }
    const auto creds = user ? store::find_credentials(db(), user->id) : std::nullopt;
    const bool has_password = creds && !creds->password_hash.empty();
    // Unknown names and accounts without a password are checked against a dummy hash: the
    // answer takes as long, so timing does not tell which names exist.
    const std::string stored = has_password ? creds->password_hash : dummy_hash_;
    const std::string password = a.password;
    auto work = [&stored, &password] { return auth::verify_password(password, stored); };
    const bool ok = co_await on_pool(pool_, work) && has_password;
    if (!ok) {
        const auto why = a.password.size() > auth::kMaxPasswordBytes ? "The password is too long to be right"
                                                                     : "The user name or password is wrong";
        co_return refuse(a, "wrong password", "password", form_again(a, "Wrong password", why, 401));
    }
    if (user->provider == "oidc" || auth::reserved_login_name(user->name))
        co_return refuse(
            a, "account may not sign in", "password",
            {403, account_refused_page("The account " + user->name + " may not sign in with a password"), "", ""});
    if (auto refused = check_code(a, *user, *creds)) co_return *refused;
    const std::string method = creds->totp_secret.empty() ? "password" : "totp";
    const auto max_age = cfg_.local_auth.password_max_age;
    if (max_age.count() > 0 && (!creds->password_changed_at || *creds->password_changed_at + max_age <= a.now)) {
        audit(a, "signin.failed", "anonymous", admin::user_object(*user),
              {{"method", method}, {"reason", "expired password"}});
        std::erase_if(changes_, [&](const auto& kv) { return kv.second.expires <= a.now; });
        if (changes_.size() >= kMaxChanges) changes_.erase(changes_.begin());
        const auto token = random_token(32);
        changes_[token] = {user->id, a.auth_id, method, a.now + kChangeLifetime};
        co_return OidcReply{200,
                            new_password_page({a.auth_id, csrf_.token(a.auth_id, a.cookie), token, user->name, "",
                                               static_cast<std::size_t>(cfg_.local_auth.password_min_length)}),
                            "", ""};
    }
    co_return approve(a, *user, method);
}

asio::awaitable<OidcReply> LocalLogin::change_password(Attempt& a) {
    const auto it = changes_.find(a.change);
    if (it == changes_.end() || it->second.expires <= a.now || it->second.auth_id != a.auth_id)
        co_return OidcReply{400, form_expired_page(a.auth_id), "", ""};
    const auto pending = it->second;
    const auto user = store::find_user(db(), pending.user_id);
    const auto creds = user ? store::find_credentials(db(), user->id) : std::nullopt;
    if (!user || !creds) co_return OidcReply{400, form_expired_page(a.auth_id), "", ""};
    const auto& la = cfg_.local_auth;
    NewPasswordForm f{a.auth_id, csrf_.token(a.auth_id, a.cookie),
                      a.change,  user->name,
                      "",        static_cast<std::size_t>(la.password_min_length)};
    auto why = auth::password_refusal(a.new_password, user->name, {.min_length = f.min_length});
    if (!why && a.new_password != a.new_password2) why = "the two new passwords differ";
    const std::string old_hash = creds->password_hash, password = a.new_password;
    const auth::HashCost cost{static_cast<unsigned long long>(la.opslimit), static_cast<std::size_t>(la.memlimit_mib)
                                                                                << 20};
    // Empty when the new password is the old one; checked and hashed on the worker.
    auto work = [&old_hash, &password, &cost] {
        return auth::verify_password(password, old_hash) ? std::string() : auth::hash_password(password, cost);
    };
    std::string hash;
    if (!why) {
        hash = co_await on_pool(pool_, work);
        if (hash.empty()) why = "the new password must differ from the old one";
    }
    if (why) {
        f.alert = "Not accepted: " + *why + ".";
        co_return OidcReply{400, new_password_page(f), "", ""};
    }
    store::set_password_hash(db(), user->id, hash, a.now);
    changes_.erase(a.change);
    audit(a, "users.set_password", "user:" + user->name, admin::user_object(*user), {{"expired", true}});
    co_return approve(a, *user, pending.method);
}

std::optional<OidcReply> LocalLogin::check_code(Attempt& a, const User& u, const store::LocalCredentials& c) {
    if (c.totp_secret.empty()) {
        if (!cfg_.local_auth.require_mfa) return std::nullopt;
        return refuse(a, "no second factor", "password",
                      {403,
                       account_refused_page("This server requires two-step sign-in and the account " + u.name +
                                            " has none set up (an administrator runs hs-admin users mfa enroll)"),
                       "", ""});
    }
    std::string code;
    for (char ch : a.code)
        if (ch != ' ') code += ch;
    if (code.empty())
        return form_again(a, "Code needed",
                          "This account needs the code from your authenticator app (or a recovery code)", 401);
    const auto secret = auth::base32_decode(c.totp_secret).value_or("");
    const auto unix_now = std::chrono::duration_cast<std::chrono::seconds>(a.now.time_since_epoch()).count();
    if (code.size() == auth::kTotpDigits) {
        if (const auto step = auth::totp_match(secret, code, unix_now, c.totp_last_step);
            step && store::use_totp_step(db(), u.id, *step))
            return std::nullopt;
        // Right code, already used: say so, so the person waits for the next one.
        if (auth::totp_match(secret, code, unix_now, 0))
            return refuse(a, "code already used", "totp",
                          form_again(a, "Code already used",
                                     "This code was already used; wait for the next code and sign in again", 401));
    } else if (store::use_recovery_code(db(), u.id, auth::recovery_code_hash(code), a.now)) {
        spdlog::info("user {} signed in with a recovery code ({} left)", u.name, c.recovery_codes_left - 1);
        return std::nullopt;
    }
    return refuse(
        a, "wrong code", "totp",
        form_again(a, "Wrong code", "The code is wrong; check the time on your phone and try the next code", 401));
}

OidcReply LocalLogin::refuse(Attempt& a, const std::string& reason, const std::string& method, OidcReply page) {
    const auto u = a.name.empty() ? std::nullopt : store::find_user_by_name(db(), a.name);
    spdlog::info("sign-in as {} for registration {} from {} refused: {}", a.name, a.auth_id, a.source, reason);
    guard_.failed(LoginGuard::Kind::Password, a.peer, u ? admin::lock_key_user(u->name) : "", reason, a.now, method);
    return page;
}

OidcReply LocalLogin::approve(Attempt& a, const User& u, const std::string& method) {
    try {
        store::approve_auth_request(db(), a.auth_id, u.id, a.now);
    } catch (const store::StoreError& e) {
        return {409, oidc_bad_link_page(e.what()), "", ""};
    }
    guard_.succeeded(LoginGuard::Kind::Password, a.peer, admin::lock_key_user(u.name), "user:" + u.name, "", a.now,
                     method);
    spdlog::info("user {} signed in with {} from {}; registration {} for {} approved", u.name, method, a.source,
                 a.auth_id, a.request->hostname);
    return {200, oidc_success_page(a.request->hostname, u.name, u.email), "", ""};
}

OidcReply LocalLogin::form_again(const Attempt& a, const std::string& title, const std::string& alert,
                                 unsigned status) {
    const SigninForm f{
        a.auth_id, a.request->hostname, csrf_.token(a.auth_id, a.cookie), a.name, alert, cfg_.oidc.enabled(), ""};
    return {status, signin_page(title, f), "", ""};
}

void LocalLogin::audit(const Attempt& a, const std::string& action, const std::string& actor, const std::string& object,
                       const json& after) {
    store::AuditEntry e{
        .at = a.now, .actor = actor, .action = action, .object = object, .after = after.dump(), .source = a.source};
    try {
        store::append_audit(db(), e);
    } catch (const std::exception& ex) {
        spdlog::error("audit trail: {} of {} not recorded: {}", action, object, ex.what());
    }
}

}  // namespace hs::control
