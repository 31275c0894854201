// audit.check: a review of the live configuration and database that names each weak point
// (docs/security.md lists them). Each finding is {check, object, message}; none = nothing found.
#include <sys/stat.h>

#include <algorithm>
#include <array>

#include "common/admin/ops.h"
#include "common/admin/signin.h"
#include "common/policy/parse.h"
#include "common/store/credentials.h"

namespace hs::admin {
namespace {

// A key unused this long is likely forgotten (issue 16's threshold).
constexpr auto kUnusedFor = std::chrono::hours(24 * 90);

json finding(const std::string& check, const std::string& object, const std::string& message) {
    return {{"check", check}, {"object", object}, {"message", message}};
}

void check_api_keys(Env& env, json& out) {
    for (const auto& k : store::list_api_keys(env.db)) {
        if (k.expired(env.now)) continue;
        const auto name = "API key " + std::to_string(k.id) + " (" + store::masked_api_key(k) + ")";
        if (!k.expiration)
            out.push_back(finding("apikey-no-expiry", name, "never expires; create keys with --expiration"));
        const auto last = k.last_seen.value_or(k.created_at);
        if (env.now - last > kUnusedFor)
            out.push_back(finding("apikey-unused", name, "not used for 90 days or more; expire it if nobody needs it"));
    }
}

void check_preauth_keys(Env& env, json& out) {
    for (const auto& k : store::list_preauth_keys(env.db))
        if (k.reusable && !k.expiration)
            out.push_back(finding("preauthkey-reusable-no-expiry",
                                  "pre-auth key " + std::to_string(k.id) + " (" + store::masked_preauth_key(k) + ")",
                                  "reusable and never expires: anyone who copies it can add nodes forever"));
}

bool wildcard_in(const std::vector<policy::Alias>& v) {
    return std::any_of(v.begin(), v.end(), [](const auto& a) { return a.kind == policy::Alias::Kind::wildcard; });
}

bool all_ports(const std::vector<policy::IpSpec>& ip) {
    return std::any_of(ip.begin(), ip.end(), [](const auto& s) {
        return s.proto == 0 && std::any_of(s.ports.begin(), s.ports.end(),
                                           [](const auto& r) { return r.first == 0 && r.last == 65535; });
    });
}

void check_policy(Env& env, json& out) {
    std::optional<std::string> text;
    try {
        text = current_policy_text(env);
    } catch (const std::exception& e) {
        out.push_back(finding("policy-unreadable", "policy", e.what()));
        return;
    }
    if (!text) {
        out.push_back(
            finding("policy-allows-all", "policy", "no policy: every node may reach every port of every other"));
        return;
    }
    policy::ParsedPolicy parsed;
    std::vector<policy::Problem> problems;
    policy::parse_policy_text(*text, parsed, problems);
    if (parsed.allow_all) {
        out.push_back(
            finding("policy-allows-all", "policy", "the policy has no acls or grants, so everything is allowed"));
        return;
    }
    for (const auto& r : parsed.rules)
        if (wildcard_in(r.src) && wildcard_in(r.dst) && all_ports(r.ip))
            out.push_back(finding("policy-allows-all", "policy line " + std::to_string(r.pos.line),
                                  "a rule lets \"*\" reach \"*:*\""));
}

// "127.0.0.1:8080", "[::1]:80", "localhost:80" are loopback; ":8080" and "0.0.0.0:80" are not.
bool loopback_listen(const std::string& addr) {
    auto host = addr.substr(0, addr.rfind(':'));
    if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

void check_transport(Env& env, json& out) {
    const auto& c = env.cfg;
    const bool tls = !c.tls_cert_path.empty() || !c.tls_letsencrypt_hostname.empty();
    if (!tls && !loopback_listen(c.listen_addr))
        out.push_back(
            finding("plain-http", "listen_addr " + c.listen_addr,
                    "plain HTTP on a non-loopback address: API keys and sign-ins cross the network in clear"));
    if (!c.metrics_listen_addr.empty() && !loopback_listen(c.metrics_listen_addr))
        out.push_back(
            finding("plain-http", "metrics_listen_addr " + c.metrics_listen_addr, "metrics served to the network"));
    // Reachable from the network: directly, or through a reverse proxy (trusted_proxies).
    const bool exposed = !loopback_listen(c.listen_addr) || !c.trusted_proxies.empty();
    if (c.auth_allowed_cidrs.empty() && exposed)
        out.push_back(finding("sign-in-any-address", "auth.allowed_cidrs",
                              "the sign-in pages" + std::string(c.api_listen_addr.empty() ? " and the REST API" : "") +
                                  " answer any address: set auth.allowed_cidrs" +
                                  (c.api_listen_addr.empty() ? " or api_listen_addr" : "")));
}

void check_file_modes(Env& env, json& out) {
    const auto& c = env.cfg;
    // With PostgreSQL there is no database file here (database_path keeps its default).
    const std::array<std::pair<const char*, std::string>, 6> files = {
        {{"database", c.database_type == "postgres" ? std::string() : c.database_path},
         {"noise key", c.noise_private_key_path},
         {"DERP key", c.derp.private_key_path},
         {"TLS key", c.tls_key_path},
         {"OIDC client secret", c.oidc.client_secret_path},
         {"PostgreSQL password", c.postgres.pass_path}}};
    for (const auto& [what, path] : files) {
        struct stat st {};
        if (path.empty() || ::stat(path.c_str(), &st) != 0) continue;
        if (st.st_mode & (S_IROTH | S_IWOTH))
            out.push_back(finding("file-readable-by-others", std::string(what) + " " + path,
                                  "other local users can read it (chmod o-rwx)"));
    }
}

void check_sign_in(Env& env, json& out) {
    const auto& o = env.cfg.oidc;
    if (!o.issuer.empty() && o.allowed_domains.empty() && o.allowed_users.empty() && o.allowed_groups.empty())
        out.push_back(finding("sign-in-open", "oidc " + o.issuer,
                              "any account at the issuer may sign in and register nodes: set allowed_domains, "
                              "allowed_users or allowed_groups"));
}

// MFA is on offer wherever built-in accounts are: an account with a password and no TOTP signs
// in on the password alone (auth.local.require_mfa refuses such accounts, so nothing to say).
void check_mfa(Env& env, json& out) {
    const auto& l = env.cfg.local_auth;
    if (!l.enabled || l.require_mfa) return;
    for (const auto& u : store::list_users(env.db)) {
        const auto c = store::find_credentials(env.db, u.id);
        if (c && !c->password_hash.empty() && c->totp_secret.empty())
            out.push_back(finding("mfa-missing", user_object(u),
                                  "signs in with a password alone: hs-admin users mfa enroll " + u.name +
                                      ", or set auth.local.require_mfa"));
    }
}

void check_user_names(Env& env, json& out) {
    static const std::array<std::string_view, 6> adminish = {"admin",     "administrator", "root",
                                                             "superuser", "sysadmin",      "operator"};
    for (const auto& u : store::list_users(env.db)) {
        auto lower = u.name;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
        const auto local = lower.substr(0, lower.find('@'));
        if (std::find(adminish.begin(), adminish.end(), local) != adminish.end())
            out.push_back(finding("admin-like-user", user_object(u),
                                  "a name like this suggests privileges users do not have here; phishing bait"));
    }
}

json audit_check(Env& env, const Params&) {
    auto out = json::array();
    check_api_keys(env, out);
    check_preauth_keys(env, out);
    check_policy(env, out);
    check_transport(env, out);
    check_file_modes(env, out);
    check_sign_in(env, out);
    check_mfa(env, out);
    check_user_names(env, out);
    return out;
}

}  // namespace

void add_audit_check_ops(OpTable& t) { t.push_back({"audit.check", "GET", "/api/v1/audit/check", audit_check}); }

}  // namespace hs::admin
