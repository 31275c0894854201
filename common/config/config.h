// config.yaml: headscale's keys (current and legacy), defaults that run out of the box, and
// validation that names the file, line and key of every problem.
#pragma once

#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace hs {

using Millis = std::chrono::milliseconds;

struct DnsRecord {
    std::string name, type, value;
};

// notifications.webhooks: one receiver of events (docs/security.md, "Webhooks").
struct Webhook {
    std::string url;
    std::string secret_path;
    std::vector<std::string> events;  // empty: every event
    Millis timeout{10000};            // one delivery attempt, connect to last byte
};

struct Config {
    std::string path;  // the file this came from ("" for built-in defaults)

    std::string server_url;  // default: "http://" + listen_addr
    std::string listen_addr = "127.0.0.1:8080";
    std::string metrics_listen_addr;  // "" = no metrics listener
    std::vector<std::string> trusted_proxies;
    // The REST API (/api/v1, /api/hs/v1) on a listener of its own: "127.0.0.1:PORT",
    // "[::1]:PORT" or "unix:/path" ("" = on listen_addr). When set, listen_addr serves no /api/.
    std::string api_listen_addr;
    // auth.allowed_cidrs: who may reach the sign-in pages (/register/, /oidc/) and the REST API,
    // by client address (after trusted_proxies); empty = any address.
    std::vector<std::string> auth_allowed_cidrs;

    std::string noise_private_key_path = "noise_private.key";

    std::string prefix_v4;  // both empty in the file => both defaults below
    std::string prefix_v6;
    std::string allocation = "sequential";

    struct Derp {
        bool server_enabled = false;
        int region_id = 999;
        std::string region_code = "hs";
        std::string region_name = "hs embedded DERP";
        bool verify_clients = true;
        std::string stun_listen_addr;
        // hs's own key (not headscale's): a TLS port for the embedded DERP when server_url is
        // plain http. Clients pin its self-signed certificate through the DERP map.
        std::string tls_listen_addr;
        std::string private_key_path = "derp_server_private.key";
        // hs's own keys (headscale's embedded DERP has no mesh and no webhook): derper's
        // -mesh-psk-file and -mesh-with, to mesh the embedded relay with the other DERP servers
        // of its region (other hs-control instances, hs-derper, Tailscale's derper) ...
        std::string mesh_key_path;
        std::vector<std::string> mesh_with;  // HOST[:PORT][/DIALHOST], as in -mesh-with
        // ... and derper's -verify-client-url and -verify-client-url-fail-open (admission
        // webhook), checked after verify_clients when both are set.
        std::string verify_client_url;
        bool verify_client_url_fail_open = true;
        bool auto_add_embedded_region = true;
        std::string ipv4, ipv6;
        std::vector<std::string> urls, paths;
        bool auto_update_enabled = false;
        Millis update_frequency = std::chrono::hours(3);
    } derp;

    Millis node_expiry{0};  // 0 = never
    Millis ephemeral_inactivity_timeout = std::chrono::seconds(120);
    Millis ha_probe_interval = std::chrono::seconds(10);
    Millis ha_probe_timeout = std::chrono::seconds(5);

    std::string database_type = "sqlite";  // "sqlite" or "postgres" after validation
    std::string database_path = "db.sqlite";
    bool database_wal = true;
    int database_wal_autocheckpoint = 1000;
    // database.type postgres (common/config/database.h turns these into a libpq connection).
    struct Postgres {
        std::string host;  // a name, an address, or a directory holding the unix socket
        int port = 0;      // 0: libpq's default, 5432
        std::string name, user, pass;
        std::string pass_path;      // a file holding the password (read_secret_file)
        std::string ssl = "false";  // headscale's true/false, or a libpq sslmode
    } postgres;

    std::string acme_url, acme_email, tls_letsencrypt_hostname, tls_letsencrypt_cache_dir;
    std::string tls_letsencrypt_challenge_type = "HTTP-01";
    std::string tls_letsencrypt_listen = ":http";
    std::string tls_cert_path, tls_key_path;

    std::string log_level = "info";
    std::string log_format = "text";

    std::string policy_mode = "file";
    std::string policy_path;

    struct Dns {
        bool magic_dns = true;
        std::string base_domain;
        // headscale's default. Left unset with no dns.nameservers.global (where headscale
        // refuses to start) hs turns it off: there is nothing to override the clients' DNS with.
        bool override_local_dns = true;
        std::vector<std::string> nameservers_global;
        std::map<std::string, std::vector<std::string>> nameservers_split;
        std::vector<std::string> search_domains;
        std::vector<DnsRecord> extra_records;
        std::string extra_records_path;
    } dns;

    std::string unix_socket = "/var/run/hs/hs.sock";
    std::string unix_socket_permission = "0770";

    struct Oidc {
        bool only_start_if_oidc_is_available = true;
        std::string issuer, client_id, client_secret, client_secret_path;
        std::vector<std::string> scope{"openid", "profile", "email"};
        std::map<std::string, std::string> extra_params;
        std::vector<std::string> allowed_domains, allowed_users, allowed_groups;
        bool email_verified_required = true;
        bool pkce_enabled = false;
        std::string pkce_method = "S256";
        bool use_expiry_from_token = false;
        // oidc.clock_skew (hs's own key): how far the provider's clock may be off when the ID
        // token's exp and iat are checked. 60 s, as go-oidc (headscale's library) allows.
        Millis clock_skew{60000};
        // oidc.oauth2 (hs's own keys): a plain OAuth2 provider (GitHub) instead of the issuer's
        // discovery; the identity comes from the userinfo endpoint through `claims`
        // (common/auth/oauth2.h has the same defaults, GitHub's). docs/oidc.md.
        struct OAuth2 {
            std::string authorization_endpoint, token_endpoint, userinfo_endpoint;
            std::string issuer_name;  // empty: the authorization endpoint's origin
            std::string token_endpoint_auth_method = "client_secret_basic";
            struct Claims {
                std::string subject = "id", email = "email", email_verified = "email_verified", name = "name",
                            username = "login", picture = "avatar_url", groups = "groups";
            } claims;
            bool enabled() const {
                return !authorization_endpoint.empty() || !token_endpoint.empty() || !userinfo_endpoint.empty();
            }
        } oauth2;
        // Sign-in through a provider is on: an issuer (OIDC) or oidc.oauth2.
        bool enabled() const { return !issuer.empty() || oauth2.enabled(); }
    } oidc;

    std::vector<Webhook> webhooks;  // notifications.webhooks

    // Built-in accounts (docs/security.md): sign-in with a password and a TOTP code on
    // /register/<id>, next to OIDC when both are on.
    struct LocalAuth {
        bool enabled = false;
        bool require_mfa = false;
        int password_min_length = 12;
        Millis password_max_age{0};  // 0: passwords do not expire
        int opslimit = 3;            // argon2id passes; measured in docs/security.md
        int memlimit_mib = 64;       // argon2id memory
    } local_auth;

    // auth.limits (hs's own keys, docs/security.md "Attempt limits"): how hs-control answers
    // wrong secrets (pre-auth keys, API keys, registration IDs, built-in accounts). A source may
    // fail `source_burst` times at once, then once per `source_refill`; `failures` within
    // `window` lock a key or account for `lockout`, doubling on each further lockout up to
    // `max_lockout`. The defaults are issue 16's: 5 in 15 minutes, 15 minutes.
    struct Limits {
        int source_burst = 20;
        Millis source_refill{1000};
        int failures = 5;
        Millis window{15 * 60 * 1000};
        Millis lockout{15 * 60 * 1000};
        Millis max_lockout{24 * 3600 * 1000};
    } limits;

    // auth.device_approval (hs's own key): a newly registered node waits, invisible to its peers,
    // until `hs-admin nodes approve` (docs/admin.md).
    bool device_approval = false;

    bool logtail_enabled = false;
    bool taildrop_enabled = true;
    bool auto_update_enabled = false;
    bool randomize_client_port = false;
};

// All problems found in one load, one per line, each "file:line: key: what is wrong".
struct ConfigError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct LoadedConfig {
    Config config;
    // "file:line: ..." notes about legacy or ignored keys; the caller logs them.
    std::vector<std::string> warnings;
};

// Where the config file is, as hs-control and hs-admin look for it: `flag` (-c) when given,
// else $HS_CONFIG, else $HEADSCALE_CONFIG (headscale's name), else kDefaultConfigPath.
inline constexpr const char* kDefaultConfigPath = "/etc/hs/config.yaml";
std::string config_path(const std::string& flag = "");

// Reads and validates a config file. Relative paths in it are resolved against its directory.
// HEADSCALE_<KEY> environment variables (dots as underscores, upper case) override file values
// when `use_env` is true. Throws ConfigError listing every problem found.
LoadedConfig load_config_file(const std::string& path, bool use_env = true);
// The same for text already in memory; `name` stands for the file in messages and `base_dir`
// resolves relative paths.
LoadedConfig load_config_text(const std::string& text, const std::string& name, const std::string& base_dir,
                              bool use_env = false);

}  // namespace hs
