// Checks that need more than one key or more than a type: addresses, prefixes, choices, and
// the combinations headscale also refuses.
#include <algorithm>
#include <map>
#include <string>

#include "common/auth/discovery.h"
#include "common/base/netaddr.h"
#include "common/config/config.h"
#include "common/config/reader.h"

namespace hs::config_detail {
namespace {

struct Check {
    const std::map<std::string, std::string>& where;
    const std::string& file;  // names a key the file does not set
    Problems& p;

    std::string at(const std::string& key) const {
        const auto it = where.find(key);
        return it == where.end() ? file + " (not set)" : it->second;
    }
    void error(const std::string& key, const std::string& msg) const {
        p.errors.push_back(at(key) + ": " + key + ": " + msg);
    }
    void warn(const std::string& key, const std::string& msg) const {
        p.warnings.push_back(at(key) + ": " + key + ": " + msg);
    }

    void one_of(const std::string& key, const std::string& value, std::initializer_list<const char*> choices) const {
        std::string list;
        for (const char* c : choices) {
            if (value == c) return;
            list += (list.empty() ? "" : ", ") + std::string(c);
        }
        error(key, "\"" + value + "\" is not one of " + list);
    }

    void listen(const std::string& key, const std::string& value, bool optional) const {
        if (value.empty()) {
            if (!optional) error(key, "must not be empty (expected host:port)");
            return;
        }
        if (!parse_host_port(value)) error(key, "\"" + value + "\" is not host:port (IPv6 as [addr]:port)");
    }
};

// host part of http(s)://host[:port][/path]; empty when the URL is malformed.
std::string url_host(const std::string& url) {
    std::string rest;
    if (url.rfind("http://", 0) == 0) rest = url.substr(7);
    else if (url.rfind("https://", 0) == 0) rest = url.substr(8);
    else return "";
    rest = rest.substr(0, rest.find('/'));
    if (!rest.empty() && rest.front() == '[') {
        const auto close = rest.find(']');
        return close == std::string::npos ? "" : rest.substr(1, close - 1);
    }
    return rest.substr(0, rest.find(':'));
}

// api_listen_addr: the REST API apart from the clients' port, reachable from this host only.
void validate_api_listen(const Check& k, const std::string& v) {
    if (v.empty()) return;
    if (v.rfind("unix:", 0) == 0) {
        if (v.size() < 7 || v[5] != '/')
            k.error("api_listen_addr",
                    "\"" + v + "\": expected unix: and an absolute path, such as unix:/run/hs/api.sock");
        return;
    }
    const auto hp = parse_host_port(v);
    const auto ip = hp ? parse_ip(hp->host) : std::nullopt;
    if (!hp || !ip || hp->port == 0) {
        k.error("api_listen_addr",
                "\"" + v + "\" is not a loopback IP:port (127.0.0.1:9090, [::1]:9090) or unix:/path");
        return;
    }
    const bool loopback = ip->v6 ? ip->str() == "::1" : ip->b[0] == 127;
    if (!loopback)
        k.error("api_listen_addr", "\"" + v +
                                       "\" is not a loopback address: the separate API listener is for this host "
                                       "only (use unix:/path, or leave it empty to serve the API on listen_addr)");
}

bool is_https_url(const std::string& s) { return s.rfind("https://", 0) == 0 && s.size() > 8; }

// The attempt limiter counts in whole seconds (admin::Throttle).
void validate_limits(const Check& k, const Config::Limits& l) {
    const auto at_least_second = [&](const char* key, Millis v) {
        if (v < std::chrono::seconds(1)) k.error(key, "must be at least 1s");
    };
    at_least_second("auth.limits.source_refill", l.source_refill);
    at_least_second("auth.limits.window", l.window);
    at_least_second("auth.limits.lockout", l.lockout);
    if (l.max_lockout < l.lockout) k.error("auth.limits.max_lockout", "must not be shorter than auth.limits.lockout");
}

// oidc.oauth2: all three endpoints, each https (http only to this machine, as discovered
// endpoints are held), and no OIDC-only key that would then silently do nothing.
void validate_oauth2(const Check& k, const Config::Oidc& o) {
    const auto& a = o.oauth2;
    if (!a.enabled()) {
        for (const auto& [key, at] : k.where)
            if (key.rfind("oidc.oauth2.", 0) == 0)
                k.warn(key, "does nothing: no oidc.oauth2 endpoint is set, so plain OAuth2 is off");
        return;
    }
    if (k.where.count("oidc.clock_skew"))
        k.warn("oidc.clock_skew", "does nothing with oidc.oauth2: there is no ID token to check");
    if (k.where.count("oidc.only_start_if_oidc_is_available"))
        k.warn("oidc.only_start_if_oidc_is_available",
               "does nothing with oidc.oauth2: nothing is fetched from the provider at start");
    if (!o.issuer.empty())
        k.error("oidc.oauth2",
                "cannot be combined with oidc.issuer: set either an OpenID provider (oidc.issuer) or a "
                "plain OAuth2 one (oidc.oauth2), not both");
    const std::pair<const char*, const std::string*> endpoints[] = {
        {"oidc.oauth2.authorization_endpoint", &a.authorization_endpoint},
        {"oidc.oauth2.token_endpoint", &a.token_endpoint},
        {"oidc.oauth2.userinfo_endpoint", &a.userinfo_endpoint}};
    for (const auto& [key, url] : endpoints) {
        if (url->empty()) k.error(key, "must be set with the other oidc.oauth2 endpoints");
        else if (!auth::acceptable_endpoint(*url))
            k.error(key, "\"" + *url + "\" is not an https URL (http only to localhost or 127.0.0.0/8, [::1])");
    }
    k.one_of("oidc.oauth2.token_endpoint_auth_method", a.token_endpoint_auth_method,
             {"client_secret_basic", "client_secret_post"});
    if (a.claims.subject.empty()) k.error("oidc.oauth2.claims.subject", "must not be empty");
    if (o.use_expiry_from_token)
        k.error("oidc.use_expiry_from_token",
                "needs an ID token, which a plain OAuth2 provider (oidc.oauth2) does "
                "not give; node.expiry applies");
}

void check_postgres(Config& c, const Check& k) {
    if (c.postgres.name.empty())
        k.error("database.postgres.name", "must name the database with database.type postgres");
    auto& ssl = c.postgres.ssl;
    if (ssl == "true") ssl = "require";
    else if (ssl == "false" || ssl.empty()) ssl = "disable";
    k.one_of("database.postgres.ssl", ssl, {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"});
    if (!c.postgres.host.empty() && c.postgres.host.front() != '/' && c.postgres.host.find(',') != std::string::npos)
        k.error("database.postgres.host", "one server only (hs runs one instance per database)");
}

void check_database(Config& c, const Check& k) {
    if (c.database_type == "sqlite3") c.database_type = "sqlite";
    if (c.database_type == "postgresql") c.database_type = "postgres";
    k.one_of("database.type", c.database_type, {"sqlite", "sqlite3", "postgres"});
    if (c.database_type == "postgres") {
        check_postgres(c, k);
        return;
    }
    if (c.database_path.empty()) k.error("database.sqlite.path", "must not be empty");
}

}  // namespace

void validate(Config& c, const std::map<std::string, std::string>& where, const std::string& file, Problems& p) {
    const Check k{where, file, p};

    k.listen("listen_addr", c.listen_addr, false);
    k.listen("metrics_listen_addr", c.metrics_listen_addr, true);
    if (c.server_url.empty()) {
        c.server_url = "http://" + c.listen_addr;
    } else if (url_host(c.server_url).empty()) {
        k.error("server_url", "\"" + c.server_url + "\" must start with http:// or https:// and name a host");
    }
    while (!c.server_url.empty() && c.server_url.back() == '/') c.server_url.pop_back();

    for (const auto& tp : c.trusted_proxies) {
        const auto pf = parse_prefix(tp);
        if (!pf) k.error("trusted_proxies", "\"" + tp + "\" is not a CIDR prefix");
        else if (pf->bits == 0) k.error("trusted_proxies", "\"" + tp + "\" would trust every address");
    }

    for (const auto& cidr : c.auth_allowed_cidrs)
        if (!parse_prefix(cidr))
            k.error("auth.allowed_cidrs", "\"" + cidr + "\" is not a CIDR prefix such as 192.168.0.0/16 or fd00::/8");
    validate_api_listen(k, c.api_listen_addr);

    if (c.noise_private_key_path.empty()) k.error("noise.private_key_path", "must not be empty");

    if (c.prefix_v4.empty() && c.prefix_v6.empty()) {
        c.prefix_v4 = "100.64.0.0/10";
        c.prefix_v6 = "fd7a:115c:a1e0::/48";
    }
    if (!c.prefix_v4.empty()) {
        const auto pf = parse_prefix(c.prefix_v4);
        if (!pf || pf->addr.v6)
            k.error("prefixes.v4", "\"" + c.prefix_v4 + "\" is not an IPv4 prefix such as 100.64.0.0/10");
        else if (!parse_prefix("100.64.0.0/10")->covers(*pf))
            k.warn("prefixes.v4", c.prefix_v4 + " is outside 100.64.0.0/10; Tailscale clients may misbehave");
        else if (pf->bits > 30) k.error("prefixes.v4", c.prefix_v4 + " is too small to hold nodes");
    }
    if (!c.prefix_v6.empty()) {
        const auto pf = parse_prefix(c.prefix_v6);
        if (!pf || !pf->addr.v6)
            k.error("prefixes.v6", "\"" + c.prefix_v6 + "\" is not an IPv6 prefix such as fd7a:115c:a1e0::/48");
        else if (!parse_prefix("fd7a:115c:a1e0::/48")->covers(*pf))
            k.warn("prefixes.v6", c.prefix_v6 + " is outside fd7a:115c:a1e0::/48; Tailscale clients may misbehave");
        else if (pf->bits > 126) k.error("prefixes.v6", c.prefix_v6 + " is too small to hold nodes");
    }
    k.one_of("prefixes.allocation", c.allocation, {"sequential", "random"});

    check_database(c, k);

    k.one_of("log.level", c.log_level, {"trace", "debug", "info", "warn", "warning", "error", "fatal", "panic", "off"});
    k.one_of("log.format", c.log_format, {"text", "json"});
    k.one_of("policy.mode", c.policy_mode, {"file", "database"});

    if (c.derp.server_enabled) {
        if (c.derp.stun_listen_addr.empty())
            k.error("derp.server.stun_listen_addr", "is required when derp.server.enabled is true");
        if (c.derp.private_key_path.empty()) k.error("derp.server.private_key_path", "must not be empty");
        if (!c.derp.auto_add_embedded_region && c.derp.paths.empty())
            k.error("derp.server.automatically_add_embedded_derp_region",
                    "is false, so the embedded region must be described in a derp.paths file, but derp.paths is empty");
    }
    if (!c.derp.mesh_with.empty() && c.derp.mesh_key_path.empty())
        k.error("derp.server.mesh_with", "needs derp.server.mesh_key_path (the region's mesh key)");
    if (!c.derp.verify_client_url.empty() && url_host(c.derp.verify_client_url).empty())
        k.error("derp.server.verify_client_url", "\"" + c.derp.verify_client_url + "\" is not an http(s) URL");
    if (!c.derp.server_enabled)
        for (const auto& [key, set] : {std::pair{"derp.server.mesh_key_path", !c.derp.mesh_key_path.empty()},
                                       std::pair{"derp.server.mesh_with", !c.derp.mesh_with.empty()},
                                       std::pair{"derp.server.verify_client_url", !c.derp.verify_client_url.empty()}})
            if (set) k.warn(key, "no effect: derp.server.enabled is false");
    k.listen("derp.server.stun_listen_addr", c.derp.stun_listen_addr, true);
    k.listen("derp.server.tls_listen_addr", c.derp.tls_listen_addr, true);
    if (c.derp.server_enabled && c.derp.tls_listen_addr.empty() && c.server_url.rfind("http://", 0) == 0)
        k.warn("derp.server.enabled",
               "server_url is plain http, so clients cannot use the embedded DERP on it "
               "(they speak DERP over TLS); set derp.server.tls_listen_addr");
    for (const auto& [key, v, v6] :
         {std::tuple{"derp.server.ipv4", c.derp.ipv4, false}, std::tuple{"derp.server.ipv6", c.derp.ipv6, true}}) {
        if (v.empty() || v == "none") continue;
        const auto ip = parse_ip(v);
        if (!ip || ip->v6 != v6) k.error(key, "\"" + v + "\" is not an " + (v6 ? "IPv6" : "IPv4") + " address");
    }
    for (const auto& u : c.derp.urls)
        if (url_host(u).empty()) k.error("derp.urls", "\"" + u + "\" is not an http(s) URL");

    if (c.ephemeral_inactivity_timeout <= std::chrono::seconds(65)) {
        const std::string key = where.count("node.ephemeral.inactivity_timeout") ? "node.ephemeral.inactivity_timeout"
                                                                                 : "ephemeral_node_inactivity_timeout";
        k.error(where.count(key) ? key : "node.ephemeral.inactivity_timeout", "must be longer than 65s");
    }
    if (c.ha_probe_interval.count() != 0) {
        if (c.ha_probe_interval < std::chrono::seconds(2))
            k.error("node.routes.ha.probe_interval", "must be 0 (off) or at least 2s");
        if (c.ha_probe_timeout < std::chrono::seconds(1) || c.ha_probe_timeout >= c.ha_probe_interval)
            k.error("node.routes.ha.probe_timeout",
                    "must be at least 1s and shorter than node.routes.ha.probe_interval");
    }

    if (c.tls_cert_path.empty() != c.tls_key_path.empty())
        k.error(c.tls_cert_path.empty() ? "tls_cert_path" : "tls_key_path",
                "tls_cert_path and tls_key_path must be set together");
    if (!c.tls_letsencrypt_hostname.empty() && !c.tls_cert_path.empty())
        k.error("tls_letsencrypt_hostname", "cannot be combined with tls_cert_path/tls_key_path");
    k.one_of("tls_letsencrypt_challenge_type", c.tls_letsencrypt_challenge_type, {"HTTP-01", "TLS-ALPN-01"});

    // DNS
    const std::string server_host = url_host(c.server_url);
    if (c.dns.magic_dns && c.dns.base_domain.empty())
        k.error("dns.base_domain", "is required when dns.magic_dns is true (for example tailnet.example.com)");
    if (!c.dns.base_domain.empty()) {
        auto& bd = c.dns.base_domain;
        if (bd.back() == '.') bd.pop_back();
        if (server_host == bd || (server_host.size() > bd.size() &&
                                  server_host.compare(server_host.size() - bd.size(), bd.size(), bd) == 0 &&
                                  server_host[server_host.size() - bd.size() - 1] == '.'))
            k.error("dns.base_domain", "\"" + bd + "\" must not contain the server's own host name " + server_host +
                                           " (clients would resolve the server through MagicDNS)");
    }
    if (c.dns.override_local_dns && c.dns.nameservers_global.empty()) {
        if (where.count("dns.override_local_dns"))
            k.error("dns.override_local_dns", "is true but dns.nameservers.global is empty");
        else c.dns.override_local_dns = false;
    }
    auto check_ns = [&](const std::string& key, const std::string& ns) {
        if (!parse_ip(ns) && !is_https_url(ns))
            k.error(key, "\"" + ns + "\" is neither an IP address nor an https:// DoH URL");
    };
    for (const auto& ns : c.dns.nameservers_global) check_ns("dns.nameservers.global", ns);
    for (const auto& [domain, list] : c.dns.nameservers_split)
        for (const auto& ns : list) check_ns("dns.nameservers.split", ns);
    for (const auto& r : c.dns.extra_records) {
        if (r.type != "A" && r.type != "AAAA") {
            k.error("dns.extra_records", "record " + r.name + ": type \"" + r.type + "\" is not A or AAAA");
            continue;
        }
        const auto ip = parse_ip(r.value);
        if (!ip || ip->v6 != (r.type == "AAAA"))
            k.error("dns.extra_records", "record " + r.name + ": \"" + r.value + "\" is not an " +
                                             (r.type == "A" ? "IPv4" : "IPv6") + " address");
    }
    if (!c.dns.extra_records.empty() && !c.dns.extra_records_path.empty())
        k.error("dns.extra_records_path", "cannot be combined with dns.extra_records");

    if (!c.postgres.pass.empty() && !c.postgres.pass_path.empty())
        k.error("database.postgres.pass_path", "cannot be combined with database.postgres.pass");
    if (!c.oidc.client_secret.empty() && !c.oidc.client_secret_path.empty())
        k.error("oidc.client_secret_path", "cannot be combined with oidc.client_secret");
    k.one_of("oidc.pkce.method", c.oidc.pkce_method, {"S256", "plain"});
    validate_oauth2(k, c.oidc);
    validate_limits(k, c.limits);

    const auto& perm = c.unix_socket_permission;
    if (perm.empty() || perm.size() > 5 ||
        !std::all_of(perm.begin(), perm.end(), [](char ch) { return ch >= '0' && ch <= '7'; }))
        k.error("unix_socket_permission", "\"" + perm + "\" is not an octal mode such as \"0770\"");
}

}  // namespace hs::config_detail
