#include "tools/hs-control/oidc_login.h"

#include <spdlog/spdlog.h>

#include "common/auth/id_token.h"
#include "common/auth/oauth2.h"
#include "common/base/netaddr.h"
#include "common/base/random.h"
#include "common/base/secret_file.h"
#include "common/base/url.h"
#include "common/config/database.h"
#include "common/store/store.h"
#include "tools/hs-control/oidc_pages.h"
#include "tools/hs-control/on_pool.h"
#include "tools/hs-control/pages.h"

namespace hs::control {
namespace {

namespace asio = boost::asio;

// Each call to the provider: a person is waiting in the browser, so a stuck provider gets a
// page saying so rather than a spinner.
constexpr auto kFetchTimeout = std::chrono::seconds(10);
constexpr std::size_t kMaxDocument = 1 << 20;
// A token whose key is not in the JWKS makes us fetch it again (the provider rotated its keys),
// at most this often, so a flood of forged kids cannot turn into a flood of fetches.
constexpr auto kJwksRefetchInterval = std::chrono::seconds(60);

// The user's name: the provider's preferred_username when it is a valid name here, else the
// e-mail address, else one made from the subject (OIDC users may share names: the
// provider identifier is what tells them apart).
std::string user_name(const auth::Identity& who) {
    for (const auto& candidate : {who.preferred_username, who.email}) {
        try {
            store::validate_user_name(candidate);
            return candidate;
        } catch (const store::StoreError&) {}
    }
    std::string name = "oidc-";
    for (char c : who.subject)
        if (std::isalnum(static_cast<unsigned char>(c)) && name.size() < 63) name += c;
    return name.size() > 5 ? name : "oidc-user";
}

// oidc.oauth2 as the provider's metadata: the issuer is the provider identifiers' base, and
// the one configured client authentication method is the one used.
auth::ProviderMetadata oauth2_provider(const Config::Oidc::OAuth2& a) {
    auth::ProviderMetadata p;
    p.issuer = auth::oauth2_issuer(a.authorization_endpoint, a.issuer_name);
    p.authorization_endpoint = a.authorization_endpoint;
    p.token_endpoint = a.token_endpoint;
    p.userinfo_endpoint = a.userinfo_endpoint;
    p.token_endpoint_auth_methods = {a.token_endpoint_auth_method};
    return p;
}

}  // namespace

TextResponse oidc_http_response(const OidcReply& r) {
    namespace http = boost::beast::http;
    auto res = text_response(static_cast<http::status>(r.status), r.html, 11, "text/html; charset=utf-8");
    res.set(http::field::server, "hs-control");
    if (!r.location.empty()) res.set(http::field::location, r.location);
    if (!r.set_cookie.empty()) res.set(http::field::set_cookie, r.set_cookie);
    res.set(http::field::cache_control, "no-store");
    res.set("Referrer-Policy", "no-referrer");
    res.set("X-Frame-Options", "DENY");
    res.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
    return res;
}

std::unique_ptr<Db> open_signin_db(const Config& cfg) {
    if (cfg.database_path == ":memory:") return nullptr;
    auto db = std::make_unique<Db>(database_name(cfg), database_options(cfg));
    // As main.cpp does for its connection: a commit on the event loop waits at most this long
    // for another process's lock, and WAL checkpoints stay on their own thread.
    db->set_busy_timeout(std::chrono::milliseconds(100));
    if (!db->postgres() && cfg.database_wal && cfg.database_wal_autocheckpoint > 0)
        db->exec("PRAGMA wal_autocheckpoint = 0");
    return db;
}

OidcLogin::OidcLogin(const Config& cfg, Db& db) : cfg_(cfg), shared_db_(db) {}

OidcLogin::~OidcLogin() { pool_.join(); }

void OidcLogin::start() {
    if (!enabled()) return;
    const auto& o = cfg_.oidc;
    client_secret_ = o.client_secret;
    if (!o.client_secret_path.empty())
        client_secret_ = read_secret_file("oidc.client_secret_path", o.client_secret_path);
    if (o.client_id.empty()) throw std::runtime_error("oidc is set up but oidc.client_id is empty");
    own_db_ = open_signin_db(cfg_);
    if (o.oauth2.enabled()) {
        // Nothing to fetch: the endpoints are the config's, and there is no ID token to verify.
        std::lock_guard lock(mu_);
        provider_ = oauth2_provider(o.oauth2);
        spdlog::info("OAuth2: signing in through {} (userinfo {}; no discovery, no ID token)",
                     o.oauth2.authorization_endpoint, o.oauth2.userinfo_endpoint);
        return;
    }
    try {
        discover();
        spdlog::info("OIDC: signing in through {} ({} signing keys)", o.issuer, keys_.size());
    } catch (const std::exception& e) {
        if (o.only_start_if_oidc_is_available)
            throw std::runtime_error("OIDC provider " + o.issuer + " is not usable: " + e.what() +
                                     " (set oidc.only_start_if_oidc_is_available: false to start anyway)");
        spdlog::warn("OIDC provider {} is not usable yet ({}); logins will try again", o.issuer, e.what());
    }
}

void OidcLogin::discover() {
    const auto& issuer = cfg_.oidc.issuer;
    auto meta = auth::parse_discovery(http_get(auth::discovery_url(issuer), kFetchTimeout, kMaxDocument), issuer);
    if (cfg_.oidc.pkce_enabled && !meta.code_challenge_methods.empty() &&
        std::find(meta.code_challenge_methods.begin(), meta.code_challenge_methods.end(), cfg_.oidc.pkce_method) ==
            meta.code_challenge_methods.end())
        spdlog::warn("OIDC: the provider does not list PKCE method {} as supported", cfg_.oidc.pkce_method);
    auto keys = auth::parse_jwks(http_get(meta.jwks_uri, kFetchTimeout, kMaxDocument));
    if (keys.empty()) throw auth::AuthError("the provider's JWKS has no RS256, ES256 or EdDSA signing key");
    std::lock_guard lock(mu_);
    provider_ = std::move(meta);
    keys_ = std::move(keys);
    keys_fetched_ = Clock::now();
}

std::vector<auth::Jwk> OidcLogin::fetch_keys() {
    std::string uri;
    {
        std::lock_guard lock(mu_);
        if (Clock::now() - keys_fetched_ < kJwksRefetchInterval) return keys_;
        uri = provider_->jwks_uri;
        keys_fetched_ = Clock::now();
    }
    auto keys = auth::parse_jwks(http_get(uri, kFetchTimeout, kMaxDocument));
    std::lock_guard lock(mu_);
    keys_ = keys;
    spdlog::info("OIDC: fetched the provider's keys again ({} signing keys)", keys.size());
    return keys;
}

std::string OidcLogin::redirect_uri() const { return cfg_.server_url + "/oidc/callback"; }

OidcReply OidcLogin::begin(const std::string& auth_id, TimePoint now) {
    std::optional<AuthRequest> ar;
    if (!auth_id.empty() && auth_id.size() < 64) ar = store::find_auth_request(db(), auth_id);
    if (!ar || ar->expires_at <= now) return {404, register_page(auth_id, std::nullopt), "", ""};
    if (ar->status != "pending")
        return {409, oidc_bad_link_page("The device " + ar->hostname + " has already been registered with this link"),
                "", ""};
    std::optional<auth::ProviderMetadata> provider;
    {
        std::lock_guard lock(mu_);
        provider = provider_;
        if (!provider && !discovering_) {
            discovering_ = true;
            asio::post(pool_, [this] {
                try {
                    discover();
                } catch (const std::exception& e) {
                    spdlog::warn("OIDC provider {} is still not usable: {}", cfg_.oidc.issuer, e.what());
                }
                std::lock_guard l(mu_);
                discovering_ = false;
            });
        }
    }
    if (!provider)
        return {503, oidc_unavailable_page("it has not answered this server yet; try the link again in a minute"), "",
                ""};
    const auto& o = cfg_.oidc;
    const auto state = flows_.begin(auth_id, o.pkce_enabled, now);
    const auto& flow = *flows_.peek(state);
    const auto nonce = o.oauth2.enabled() ? std::string() : flow.nonce;
    auth::AuthorizationRequest r{o.client_id, redirect_uri(), o.scope, state, nonce, "", "", o.extra_params};
    if (o.pkce_enabled) {
        r.code_challenge = auth::pkce_challenge(flow.code_verifier, o.pkce_method);
        r.code_challenge_method = o.pkce_method;
    }
    const auto url = auth::authorization_url(*provider, r);
    const bool secure = cfg_.server_url.rfind("https://", 0) == 0;
    return {302,
            page("Sign in",
                 "<p>Continue to <a href=\"" + html_escape(url) + "\">sign in at your identity provider</a>.</p>"),
            url, oidc_set_cookie(state, secure)};
}

OidcLogin::Verified OidcLogin::authenticate(const std::string& code, const OidcFlow& flow) {
    auth::ProviderMetadata p;
    std::vector<auth::Jwk> keys;
    {
        std::lock_guard lock(mu_);
        p = *provider_;
        keys = keys_;
    }
    if (cfg_.oidc.oauth2.enabled()) return authenticate_oauth2(code, flow, p);
    const auto& o = cfg_.oidc;
    const auto res = redeem(code, flow, p);
    const auto tokens = auth::parse_token_response(res.status, res.body);
    auth::IdTokenExpectations expect{p.issuer, o.client_id, flow.nonce, Clock::now(),
                                     std::chrono::duration_cast<std::chrono::seconds>(o.clock_skew)};
    auth::IdToken token;
    try {
        token = auth::verify_id_token(tokens.id_token, keys, expect);
    } catch (const auth::UnknownKeyError&) {
        token = auth::verify_id_token(tokens.id_token, fetch_keys(), expect);
    }
    nlohmann::json info;
    if (!p.userinfo_endpoint.empty() && !tokens.access_token.empty()) {
        const auto r = http_request("GET", p.userinfo_endpoint, nullptr, "Bearer " + tokens.access_token, kFetchTimeout,
                                    kMaxDocument);
        if (r.status == 200) info = nlohmann::json::parse(r.body, nullptr, false);
        else spdlog::warn("OIDC: UserInfo answered HTTP {}; using the ID token's claims alone", r.status);
    }
    return {auth::identity_from(p.issuer, token.claims, info.is_object() ? &info : nullptr), token.expires_at};
}

OidcLogin::Verified OidcLogin::authenticate_oauth2(const std::string& code, const OidcFlow& flow,
                                                   const auth::ProviderMetadata& p) {
    const auto res = redeem(code, flow, p);
    const auto access_token = auth::parse_oauth2_token_response(res.status, res.body);
    const auto r =
        http_request("GET", p.userinfo_endpoint, nullptr, "Bearer " + access_token, kFetchTimeout, kMaxDocument);
    const auto info = auth::parse_userinfo_response(r.status, r.body);
    const auto& c = cfg_.oidc.oauth2.claims;
    const auth::ClaimMap claims{c.subject, c.email, c.email_verified, c.name, c.username, c.picture, c.groups};
    // No token expiry: oidc.use_expiry_from_token is refused with oidc.oauth2 (validate.cpp).
    return {auth::identity_from_userinfo(p.issuer, claims, info), TimePoint{}};
}

HttpResponse OidcLogin::redeem(const std::string& code, const OidcFlow& flow, const auth::ProviderMetadata& p) {
    const auto& o = cfg_.oidc;
    auto body = auth::token_request_body(code, redirect_uri(), o.client_id, flow.code_verifier);
    std::string authorization = auth::basic_authorization(o.client_id, client_secret_);
    const auto& methods = p.token_endpoint_auth_methods;
    // client_secret_basic is the default (OpenID Connect Discovery §3); a provider that lists
    // only client_secret_post (or oidc.oauth2.token_endpoint_auth_method says so) gets the
    // secret in the body.
    if (!methods.empty() && std::find(methods.begin(), methods.end(), "client_secret_basic") == methods.end() &&
        std::find(methods.begin(), methods.end(), "client_secret_post") != methods.end()) {
        body += "&" + auth::form_encode({{"client_secret", client_secret_}});
        authorization.clear();
    }
    return http_post_form(p.token_endpoint, body, authorization, kFetchTimeout, kMaxDocument);
}

asio::awaitable<OidcReply> OidcLogin::finish(const std::string& target, const std::string& cookies) {
    const std::string query(target_query(target));
    const auto state = query_value(query, "state").value_or("");
    if (state.empty())
        co_return OidcReply{400, oidc_bad_link_page("This page was opened without a sign-in request"), "", ""};
    const bool same_browser = cookie_value(cookies, oidc_cookie_name(state)) == state;
    const auto flow = flows_.take(state, Clock::now());
    if (!flow)
        co_return OidcReply{400, oidc_bad_link_page("This sign-in link is unknown, has expired or was already used"),
                            "", ""};
    if (!same_browser) {
        spdlog::warn("OIDC: callback for registration {} refused: the state cookie is missing or different",
                     flow->auth_id);
        co_return OidcReply{
            400, oidc_bad_link_page("This sign-in was started in another browser, or its cookie was lost"), "", ""};
    }
    if (const auto error = query_value(query, "error")) {
        const auto desc = query_value(query, "error_description").value_or("");
        spdlog::info("OIDC: the provider refused registration {}: {} {}", flow->auth_id, *error, desc);
        co_return OidcReply{
            403,
            oidc_refused_page("the identity provider answered \"" + *error + (desc.empty() ? "" : ": " + desc) + "\""),
            "", ""};
    }
    const auto code = query_value(query, "code").value_or("");
    if (code.empty())
        co_return OidcReply{400, oidc_bad_link_page("The identity provider sent no authorization code"), "", ""};
    Verified v;
    try {
        auto work = [this, &code, &flow] { return authenticate(code, *flow); };
        v = co_await on_pool(pool_, work);
    } catch (const auth::AuthError& e) {
        spdlog::warn("OIDC: login for registration {} refused: {}", flow->auth_id, e.what());
        co_return OidcReply{403, oidc_unverified_page(e.what()), "", ""};
    } catch (const std::exception& e) {
        spdlog::warn("OIDC: login for registration {} failed: {}", flow->auth_id, e.what());
        co_return OidcReply{502, oidc_unavailable_page(e.what()), "", ""};
    }
    const auth::LoginRules rules{cfg_.oidc.allowed_domains, cfg_.oidc.allowed_users, cfg_.oidc.allowed_groups,
                                 cfg_.oidc.email_verified_required};
    if (const auto why = auth::refusal(v.who, rules)) {
        spdlog::info("OIDC: {} ({}) refused for registration {}: {}", v.who.provider_identifier, v.who.email,
                     flow->auth_id, *why);
        co_return OidcReply{403, oidc_refused_page(*why), "", ""};
    }
    co_return ask_confirmation(*flow, v, Clock::now());
}

OidcReply OidcLogin::ask_confirmation(const OidcFlow& flow, const Verified& v, TimePoint now) {
    const auto ar = store::find_auth_request(db(), flow.auth_id);
    if (!ar || ar->status != "pending" || ar->expires_at <= now)
        return {410, oidc_bad_link_page("This device's registration request has expired or was already completed"), "",
                ""};
    const auto token = random_token(32);
    confirmations_.hold(flow.auth_id, token, {flow, v}, now);
    spdlog::info("OIDC: {} signed in for registration {} ({}); waiting for the confirmation", v.who.provider_identifier,
                 flow.auth_id, ar->hostname);
    const bool secure = cfg_.server_url.rfind("https://", 0) == 0;
    return {200,
            oidc_confirm_page(flow.auth_id, token, ar->hostname, ar->machine_key, ar->node_key, user_name(v.who),
                              v.who.email),
            "", confirm_set_cookie(flow.auth_id, token, secure)};
}

asio::awaitable<OidcReply> OidcLogin::confirm(const std::string& method, const std::string& auth_id,
                                              const std::string& body, const std::string& cookies,
                                              const std::string& peer) {
    if (method != "POST")
        co_return OidcReply{405, oidc_bad_link_page("This address takes only the confirmation form"), "", ""};
    const auto form = query_value(body, kConfirmField).value_or("");
    const auto cookie = cookie_value(cookies, kConfirmField);
    // The form and the cookie must agree: another site can make a browser post the form, but
    // neither read the token nor send the SameSite=Strict cookie with it.
    if (form.empty() || cookie != form) {
        spdlog::warn("OIDC: confirmation for registration {} refused: the token is missing or not this browser's",
                     auth_id);
        co_return OidcReply{403,
                            oidc_bad_link_page("This confirmation did not come from the page this server showed "
                                               "you in this browser"),
                            "", ""};
    }
    const auto held = confirmations_.take(auth_id, form, Clock::now());
    if (!held)
        co_return OidcReply{410, oidc_bad_link_page("This confirmation is unknown, has expired or was already used"),
                            "", ""};
    auto reply = approve(held->flow, held->verified, Clock::now(), peer);
    const bool secure = cfg_.server_url.rfind("https://", 0) == 0;
    reply.set_cookie = confirm_set_cookie(auth_id, "", secure, true);
    if (reply.status == 200 && cfg_.oidc.use_expiry_from_token) {
        // Named arguments (GCC 12, see on_pool); detached: the person's page does not wait.
        auto executor = co_await asio::this_coro::executor;
        const auto user_id = reply.user_id;
        const auto expiry = held->verified.token_expiry;
        asio::co_spawn(executor, apply_token_expiry(auth_id, user_id, expiry), asio::detached);
    }
    co_return reply;
}

asio::awaitable<void> OidcLogin::apply_token_expiry(std::string auth_id, std::int64_t user_id, TimePoint expiry) {
    // The registration itself is completed by the client's waiting request (register.cpp) with
    // node.expiry, on the next tick; this follows it. 120 x 250 ms: the client's long poll.
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (int i = 0; i < 120; ++i) {
        timer.expires_after(std::chrono::milliseconds(250));
        co_await timer.async_wait(asio::use_awaitable);
        try {
            const auto ar = store::find_auth_request(db(), auth_id);
            if (!ar) co_return;
            if (ar->status != "done") continue;
            const auto node = store::find_node_by_node_key(db(), ar->node_key);
            if (!node || node->user_id != user_id) co_return;
            store::set_node_expiry(db(), node->id, expiry);
            spdlog::info("OIDC: node {} ({}) expires with its ID token at {}", node->id, node->given_name,
                         format_time(expiry));
        } catch (const std::exception& e) {
            spdlog::warn("OIDC: setting the ID token's expiry on registration {}: {}", auth_id, e.what());
        }
        co_return;
    }
}

namespace {

// The sign-in vocabulary of the audit trail (signin.succeeded: docs/security.md): the client's
// address without its port, and its /24 (IPv4) or /64 (IPv6) as the "network".
void audit_signin(Db& db, TimePoint now, const std::string& provider_identifier, const User& user,
                  const std::string& peer) {
    const auto hp = parse_host_port(peer);
    const std::string address = hp ? hp->host : peer;
    std::string network;
    if (const auto ip = parse_ip(address))
        if (const auto net = parse_prefix(address + (ip->v6 ? "/64" : "/24"), true)) network = net->str();
    store::AuditEntry e{.at = now,
                        .actor = "oidc:" + provider_identifier,
                        .action = "signin.succeeded",
                        .object = "user " + std::to_string(user.id) + " (" + user.name + ")",
                        .after = nlohmann::json{{"method", "oidc"}, {"network", network}}.dump(),
                        .source = address};
    try {
        store::append_audit(db, e);
    } catch (const std::exception& ex) {
        spdlog::error("audit trail: signin.succeeded of {} not recorded: {}", e.object, ex.what());
    }
}

}  // namespace

OidcReply OidcLogin::approve(const OidcFlow& flow, const Verified& v, TimePoint now, const std::string& peer) {
    const auto ar = store::find_auth_request(db(), flow.auth_id);
    if (!ar || ar->status != "pending" || ar->expires_at <= now)
        return {410, oidc_bad_link_page("This device's registration request has expired or was already completed"), "",
                ""};
    User u;
    u.provider_identifier = v.who.provider_identifier;
    u.name = user_name(v.who);
    u.display_name = v.who.name;
    // headscale 0.28+: an unverified address is not stored unless the config says so.
    if (v.who.email_verified || !cfg_.oidc.email_verified_required) u.email = v.who.email;
    u.profile_pic_url = v.who.picture;
    u.groups = v.who.groups;
    try {
        const auto user = store::upsert_oidc_user(db(), u);
        store::approve_auth_request(db(), flow.auth_id, user.id, now, "oidc");
        audit_signin(db(), now, v.who.provider_identifier, user, peer);
        spdlog::info("OIDC: {} (user {}, {}) signed in; registration {} for {} approved", v.who.provider_identifier,
                     user.id, user.name, flow.auth_id, ar->hostname);
        return {200, oidc_success_page(ar->hostname, user.name, user.email, cfg_.device_approval), "", "", user.id};
    } catch (const store::StoreError& e) {
        return {409, oidc_bad_link_page(e.what()), "", ""};
    } catch (const std::exception& e) {
        spdlog::error("OIDC: storing the login for registration {}: {}", flow.auth_id, e.what());
        return {503, oidc_unavailable_page("this server could not record the sign-in"), "", ""};
    }
}

}  // namespace hs::control
