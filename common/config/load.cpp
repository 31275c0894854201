// Walks config.yaml against the table of known keys. Unknown keys are errors (with a
// suggestion), headscale's legacy keys are mapped with a warning, and the new key wins when
// both are present.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "common/config/config.h"
#include "common/config/reader.h"

namespace hs {
namespace config_detail {
void validate(Config& c, const std::map<std::string, std::string>& where, const std::string& file, Problems& p);
void warn_unsupported(const Config& c, const std::map<std::string, std::string>& where, Problems& p);
}  // namespace config_detail

namespace {

using config_detail::Problems;
using config_detail::Reader;
using Setter = std::function<void(Config&, Reader&)>;

struct Field {
    const char* path;
    Setter set;
};

// Keys headscale reads that hs accepts but has no use for (gRPC, GORM tuning, its batcher,
// PostgreSQL, the CLI's remote settings). Accepting them lets an existing file load unchanged;
// unsupported.cpp warns about each one a file sets.
void ignore(Config&, Reader&) {}

const std::vector<Field>& fields() {
    static const std::vector<Field> table = {
        {"server_url", [](Config& c, Reader& r) { c.server_url = r.str(); }},
        {"listen_addr", [](Config& c, Reader& r) { c.listen_addr = r.str(); }},
        {"metrics_listen_addr", [](Config& c, Reader& r) { c.metrics_listen_addr = r.str(); }},
        {"grpc_listen_addr", ignore},
        {"grpc_allow_insecure", ignore},
        {"trusted_proxies", [](Config& c, Reader& r) { c.trusted_proxies = r.list(); }},
        {"api_listen_addr", [](Config& c, Reader& r) { c.api_listen_addr = r.str(); }},
        {"auth.allowed_cidrs", [](Config& c, Reader& r) { c.auth_allowed_cidrs = r.list(); }},
        {"noise.private_key_path", [](Config& c, Reader& r) { c.noise_private_key_path = r.path(); }},
        {"prefixes.v4", [](Config& c, Reader& r) { c.prefix_v4 = r.str(); }},
        {"prefixes.v6", [](Config& c, Reader& r) { c.prefix_v6 = r.str(); }},
        {"prefixes.allocation", [](Config& c, Reader& r) { c.allocation = r.str(); }},
        {"derp.server.enabled", [](Config& c, Reader& r) { c.derp.server_enabled = r.boolean(); }},
        {"derp.server.region_id", [](Config& c, Reader& r) { c.derp.region_id = r.integer(1, 1 << 30); }},
        {"derp.server.region_code", [](Config& c, Reader& r) { c.derp.region_code = r.str(); }},
        {"derp.server.region_name", [](Config& c, Reader& r) { c.derp.region_name = r.str(); }},
        {"derp.server.verify_clients", [](Config& c, Reader& r) { c.derp.verify_clients = r.boolean(); }},
        {"derp.server.stun_listen_addr", [](Config& c, Reader& r) { c.derp.stun_listen_addr = r.str(); }},
        {"derp.server.tls_listen_addr", [](Config& c, Reader& r) { c.derp.tls_listen_addr = r.str(); }},
        {"derp.server.private_key_path", [](Config& c, Reader& r) { c.derp.private_key_path = r.path(); }},
        {"derp.server.mesh_key_path", [](Config& c, Reader& r) { c.derp.mesh_key_path = r.path(); }},
        {"derp.server.mesh_with", [](Config& c, Reader& r) { c.derp.mesh_with = r.list(); }},
        {"derp.server.verify_client_url", [](Config& c, Reader& r) { c.derp.verify_client_url = r.str(); }},
        {"derp.server.verify_client_url_fail_open",
         [](Config& c, Reader& r) { c.derp.verify_client_url_fail_open = r.boolean(); }},
        {"derp.server.automatically_add_embedded_derp_region",
         [](Config& c, Reader& r) { c.derp.auto_add_embedded_region = r.boolean(); }},
        {"derp.server.ipv4", [](Config& c, Reader& r) { c.derp.ipv4 = r.str(); }},
        {"derp.server.ipv6", [](Config& c, Reader& r) { c.derp.ipv6 = r.str(); }},
        {"derp.server.stun.enabled", ignore},
        {"derp.urls", [](Config& c, Reader& r) { c.derp.urls = r.list(); }},
        {"derp.paths", [](Config& c, Reader& r) { c.derp.paths = r.path_list(); }},
        {"derp.auto_update_enabled", [](Config& c, Reader& r) { c.derp.auto_update_enabled = r.boolean(); }},
        {"derp.update_frequency", [](Config& c, Reader& r) { c.derp.update_frequency = r.duration(); }},
        {"disable_check_updates", ignore},  // hs never checks for updates
        {"node.expiry", [](Config& c, Reader& r) { c.node_expiry = r.duration(); }},
        {"node.ephemeral.inactivity_timeout",
         [](Config& c, Reader& r) { c.ephemeral_inactivity_timeout = r.duration(); }},
        {"node.routes.ha.probe_interval", [](Config& c, Reader& r) { c.ha_probe_interval = r.duration(); }},
        {"node.routes.ha.probe_timeout", [](Config& c, Reader& r) { c.ha_probe_timeout = r.duration(); }},
        {"database.type", [](Config& c, Reader& r) { c.database_type = r.str(); }},
        {"database.debug", ignore},
        {"database.gorm.prepare_stmt", ignore},
        {"database.gorm.parameterized_queries", ignore},
        {"database.gorm.skip_err_record_not_found", ignore},
        {"database.gorm.slow_threshold", ignore},
        {"database.sqlite.path", [](Config& c, Reader& r) { c.database_path = r.path(); }},
        {"database.sqlite.write_ahead_log", [](Config& c, Reader& r) { c.database_wal = r.boolean(); }},
        {"database.sqlite.wal_autocheckpoint",
         [](Config& c, Reader& r) { c.database_wal_autocheckpoint = r.integer(0, 1 << 30); }},
        {"database.postgres.host", [](Config& c, Reader& r) { c.postgres.host = r.str(); }},
        {"database.postgres.port", [](Config& c, Reader& r) { c.postgres.port = r.integer(1, 65535); }},
        {"database.postgres.name", [](Config& c, Reader& r) { c.postgres.name = r.str(); }},
        {"database.postgres.user", [](Config& c, Reader& r) { c.postgres.user = r.str(); }},
        {"database.postgres.pass", [](Config& c, Reader& r) { c.postgres.pass = r.str(); }},
        {"database.postgres.pass_path", [](Config& c, Reader& r) { c.postgres.pass_path = r.str(); }},
        {"database.postgres.ssl", [](Config& c, Reader& r) { c.postgres.ssl = r.str(); }},
        {"database.postgres.max_open_conns", ignore},
        {"database.postgres.max_idle_conns", ignore},
        {"database.postgres.conn_max_idle_time_secs", ignore},
        {"acme_url", [](Config& c, Reader& r) { c.acme_url = r.str(); }},
        {"acme_email", [](Config& c, Reader& r) { c.acme_email = r.str(); }},
        {"tls_letsencrypt_hostname", [](Config& c, Reader& r) { c.tls_letsencrypt_hostname = r.str(); }},
        {"tls_letsencrypt_cache_dir", [](Config& c, Reader& r) { c.tls_letsencrypt_cache_dir = r.path(); }},
        {"tls_letsencrypt_challenge_type", [](Config& c, Reader& r) { c.tls_letsencrypt_challenge_type = r.str(); }},
        {"tls_letsencrypt_listen", [](Config& c, Reader& r) { c.tls_letsencrypt_listen = r.str(); }},
        {"tls_cert_path", [](Config& c, Reader& r) { c.tls_cert_path = r.path(); }},
        {"tls_key_path", [](Config& c, Reader& r) { c.tls_key_path = r.path(); }},
        {"notifications.webhooks", [](Config& c, Reader& r) { c.webhooks = r.webhooks(); }},
        {"log.level", [](Config& c, Reader& r) { c.log_level = r.str(); }},
        {"log.format", [](Config& c, Reader& r) { c.log_format = r.str(); }},
        {"policy.mode", [](Config& c, Reader& r) { c.policy_mode = r.str(); }},
        {"policy.path", [](Config& c, Reader& r) { c.policy_path = r.path(); }},
        {"dns.magic_dns", [](Config& c, Reader& r) { c.dns.magic_dns = r.boolean(); }},
        {"dns.base_domain", [](Config& c, Reader& r) { c.dns.base_domain = r.str(); }},
        {"dns.override_local_dns", [](Config& c, Reader& r) { c.dns.override_local_dns = r.boolean(); }},
        {"dns.nameservers.global", [](Config& c, Reader& r) { c.dns.nameservers_global = r.list(); }},
        {"dns.nameservers.split", [](Config& c, Reader& r) { c.dns.nameservers_split = r.list_map(); }},
        {"dns.search_domains", [](Config& c, Reader& r) { c.dns.search_domains = r.list(); }},
        {"dns.extra_records", [](Config& c, Reader& r) { c.dns.extra_records = r.records(); }},
        {"dns.extra_records_path", [](Config& c, Reader& r) { c.dns.extra_records_path = r.path(); }},
        {"unix_socket", [](Config& c, Reader& r) { c.unix_socket = r.path(); }},
        {"unix_socket_permission", [](Config& c, Reader& r) { c.unix_socket_permission = r.str(); }},
        {"auth.device_approval", [](Config& c, Reader& r) { c.device_approval = r.boolean(); }},
        {"auth.limits.source_burst", [](Config& c, Reader& r) { c.limits.source_burst = r.integer(1, 100000); }},
        {"auth.limits.source_refill", [](Config& c, Reader& r) { c.limits.source_refill = r.duration(); }},
        {"auth.limits.failures", [](Config& c, Reader& r) { c.limits.failures = r.integer(1, 1000); }},
        {"auth.limits.window", [](Config& c, Reader& r) { c.limits.window = r.duration(); }},
        {"auth.limits.lockout", [](Config& c, Reader& r) { c.limits.lockout = r.duration(); }},
        {"auth.limits.max_lockout", [](Config& c, Reader& r) { c.limits.max_lockout = r.duration(); }},
        {"oidc.only_start_if_oidc_is_available",
         [](Config& c, Reader& r) { c.oidc.only_start_if_oidc_is_available = r.boolean(); }},
        {"oidc.issuer", [](Config& c, Reader& r) { c.oidc.issuer = r.str(); }},
        {"oidc.client_id", [](Config& c, Reader& r) { c.oidc.client_id = r.str(); }},
        {"oidc.client_secret", [](Config& c, Reader& r) { c.oidc.client_secret = r.str(); }},
        {"oidc.client_secret_path", [](Config& c, Reader& r) { c.oidc.client_secret_path = r.str(); }},
        {"oidc.scope", [](Config& c, Reader& r) { c.oidc.scope = r.list(); }},
        {"oidc.extra_params", [](Config& c, Reader& r) { c.oidc.extra_params = r.str_map(); }},
        {"oidc.allowed_domains", [](Config& c, Reader& r) { c.oidc.allowed_domains = r.list(); }},
        {"oidc.allowed_users", [](Config& c, Reader& r) { c.oidc.allowed_users = r.list(); }},
        {"oidc.allowed_groups", [](Config& c, Reader& r) { c.oidc.allowed_groups = r.list(); }},
        {"oidc.email_verified_required", [](Config& c, Reader& r) { c.oidc.email_verified_required = r.boolean(); }},
        {"oidc.pkce.enabled", [](Config& c, Reader& r) { c.oidc.pkce_enabled = r.boolean(); }},
        {"oidc.pkce.method", [](Config& c, Reader& r) { c.oidc.pkce_method = r.str(); }},
        {"oidc.clock_skew", [](Config& c, Reader& r) { c.oidc.clock_skew = r.duration(); }},
        {"oidc.oauth2.authorization_endpoint",
         [](Config& c, Reader& r) { c.oidc.oauth2.authorization_endpoint = r.str(); }},
        {"oidc.oauth2.token_endpoint", [](Config& c, Reader& r) { c.oidc.oauth2.token_endpoint = r.str(); }},
        {"oidc.oauth2.userinfo_endpoint", [](Config& c, Reader& r) { c.oidc.oauth2.userinfo_endpoint = r.str(); }},
        {"oidc.oauth2.issuer_name", [](Config& c, Reader& r) { c.oidc.oauth2.issuer_name = r.str(); }},
        {"oidc.oauth2.token_endpoint_auth_method",
         [](Config& c, Reader& r) { c.oidc.oauth2.token_endpoint_auth_method = r.str(); }},
        {"oidc.oauth2.claims.subject", [](Config& c, Reader& r) { c.oidc.oauth2.claims.subject = r.str(); }},
        {"oidc.oauth2.claims.email", [](Config& c, Reader& r) { c.oidc.oauth2.claims.email = r.str(); }},
        {"oidc.oauth2.claims.email_verified",
         [](Config& c, Reader& r) { c.oidc.oauth2.claims.email_verified = r.str(); }},
        {"oidc.oauth2.claims.name", [](Config& c, Reader& r) { c.oidc.oauth2.claims.name = r.str(); }},
        {"oidc.oauth2.claims.username", [](Config& c, Reader& r) { c.oidc.oauth2.claims.username = r.str(); }},
        {"oidc.oauth2.claims.picture", [](Config& c, Reader& r) { c.oidc.oauth2.claims.picture = r.str(); }},
        {"oidc.oauth2.claims.groups", [](Config& c, Reader& r) { c.oidc.oauth2.claims.groups = r.str(); }},
        {"oidc.use_expiry_from_token", [](Config& c, Reader& r) { c.oidc.use_expiry_from_token = r.boolean(); }},
        {"auth.local.enabled", [](Config& c, Reader& r) { c.local_auth.enabled = r.boolean(); }},
        {"auth.local.require_mfa", [](Config& c, Reader& r) { c.local_auth.require_mfa = r.boolean(); }},
        // At least 8: NIST SP 800-63B §5.1.1.2's floor for memorized secrets.
        {"auth.local.password_min_length",
         [](Config& c, Reader& r) { c.local_auth.password_min_length = r.integer(8, 256); }},
        {"auth.local.password_max_age", [](Config& c, Reader& r) { c.local_auth.password_max_age = r.duration(); }},
        // libsodium's crypto_pwhash limits: at least 1 pass, 8 KiB to 4 TiB (we ask 8 MiB to 4 GiB).
        {"auth.local.opslimit", [](Config& c, Reader& r) { c.local_auth.opslimit = r.integer(1, 100); }},
        {"auth.local.memlimit_mib", [](Config& c, Reader& r) { c.local_auth.memlimit_mib = r.integer(8, 4096); }},
        {"logtail.enabled", [](Config& c, Reader& r) { c.logtail_enabled = r.boolean(); }},
        {"taildrop.enabled", [](Config& c, Reader& r) { c.taildrop_enabled = r.boolean(); }},
        {"auto_update.enabled", [](Config& c, Reader& r) { c.auto_update_enabled = r.boolean(); }},
        {"randomize_client_port", [](Config& c, Reader& r) { c.randomize_client_port = r.boolean(); }},
        {"cli.address", ignore},
        {"cli.api_key", ignore},
        {"cli.timeout", ignore},
        {"cli.insecure", ignore},
        {"tuning.notifier_send_timeout", ignore},
        {"tuning.batch_change_delay", ignore},
        {"tuning.node_mapsession_buffered_chan_size", ignore},
        {"tuning.batcher_workers", ignore},
        {"tuning.register_cache_expiration", ignore},
        {"tuning.register_cache_max_entries", ignore},
        {"tuning.node_store_batch_size", ignore},
        {"tuning.node_store_batch_timeout", ignore},
        {"preauth_keys.revoked_retention", ignore},
    };
    return table;
}

// Old key -> current key ("" = no longer meaningful; warned about and ignored).
struct Legacy {
    const char* old_path;
    const char* new_path;
};
const std::vector<Legacy>& legacy_keys() {
    static const std::vector<Legacy> table = {
        {"db_type", "database.type"},
        {"db_path", "database.sqlite.path"},
        {"db_host", "database.postgres.host"},
        {"db_port", "database.postgres.port"},
        {"db_name", "database.postgres.name"},
        {"db_user", "database.postgres.user"},
        {"db_pass", "database.postgres.pass"},
        {"db_ssl", "database.postgres.ssl"},
        {"acl_policy_path", "policy.path"},
        {"log_level", "log.level"},
        {"ephemeral_node_inactivity_timeout", "node.ephemeral.inactivity_timeout"},
        {"oidc.expiry", "node.expiry"},
        {"dns_config.nameservers", "dns.nameservers.global"},
        {"dns_config.restricted_nameservers", "dns.nameservers.split"},
        {"dns_config.domains", "dns.search_domains"},
        {"dns_config.magic_dns", "dns.magic_dns"},
        {"dns_config.base_domain", "dns.base_domain"},
        {"dns_config.override_local_dns", "dns.override_local_dns"},
        {"dns_config.extra_records", "dns.extra_records"},
        {"dns_config.use_username_in_magic_dns", ""},
        {"dns.use_username_in_magic_dns", ""},
        {"private_key_path", ""},
        {"node_update_check_interval", ""},
        {"tls_client_auth_mode", ""},
        {"oidc.strip_email_domain", ""},
        {"oidc.map_legacy_users", ""},
    };
    return table;
}

const Field* find_field(const std::string& path) {
    for (const auto& f : fields())
        if (path == f.path) return &f;
    return nullptr;
}

const Legacy* find_legacy(const std::string& path) {
    for (const auto& l : legacy_keys())
        if (path == l.old_path) return &l;
    return nullptr;
}

bool starts_section(const std::string& path, const char* key) {
    const std::string k(key);
    return k.size() > path.size() && k.compare(0, path.size(), path) == 0 && k[path.size()] == '.';
}

bool is_section(const std::string& path) {
    for (const auto& f : fields())
        if (starts_section(path, f.path)) return true;
    for (const auto& l : legacy_keys())
        if (starts_section(path, l.old_path)) return true;
    return false;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j)
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::string suggestion(const std::string& path) {
    std::string best;
    std::size_t best_d = 4;
    for (const auto& f : fields()) {
        const auto d = edit_distance(path, f.path);
        if (d < best_d) {
            best_d = d;
            best = f.path;
        }
    }
    return best.empty() ? "" : " (did you mean \"" + best + "\"?)";
}

struct Assignment {
    std::string path;
    YAML::Node value;
    std::string where;
    std::string legacy_from;  // non-empty when it came from an old key
};

class Walker {
public:
    Walker(std::string name, Problems& p) : name_(std::move(name)), p_(p) {}

    void walk(const YAML::Node& node, const std::string& prefix) {
        if (node.IsNull()) return;
        if (!node.IsMap()) {
            p_.errors.push_back(at(node) + ": " + (prefix.empty() ? "top level" : prefix) + ": expected a mapping");
            return;
        }
        std::map<std::string, std::string> seen;  // key -> where it was first given
        for (const auto& kv : node) {
            if (!kv.first.IsScalar()) {
                p_.errors.push_back(at(kv.first) + ": keys must be plain strings");
                continue;
            }
            const auto key = kv.first.Scalar();
            const auto path = prefix.empty() ? key : prefix + "." + key;
            // YAML forbids it and go-yaml (headscale's) refuses it; yaml-cpp would keep both.
            if (const auto [first, fresh] = seen.emplace(key, at(kv.first)); !fresh) {
                p_.errors.push_back(at(kv.first) + ": " + path + ": given twice (first at " + first->second + ")");
                continue;
            }
            if (find_field(path)) {
                out.push_back({path, kv.second, at(kv.first), ""});
            } else if (const auto* l = find_legacy(path)) {
                legacy(*l, kv.second, at(kv.first));
            } else if (path == "ip_prefixes") {
                ip_prefixes(kv.second, at(kv.first));
            } else if (is_section(path)) {
                walk(kv.second, path);
            } else {
                p_.errors.push_back(at(kv.first) + ": " + path + ": unknown key" + suggestion(path));
            }
        }
    }

    std::vector<Assignment> out;

private:
    std::string at(const YAML::Node& n) const { return name_ + ":" + std::to_string(n.Mark().line + 1); }

    void legacy(const Legacy& l, const YAML::Node& value, const std::string& where) {
        if (*l.new_path == 0) {
            p_.warnings.push_back(where + ": " + l.old_path + ": no longer has any effect; remove it");
            return;
        }
        p_.warnings.push_back(where + ": " + l.old_path + " is headscale's old name for \"" + l.new_path +
                              "\"; using it, but please rename it");
        out.push_back({l.new_path, value, where, l.old_path});
    }

    // ip_prefixes held both families in one list; prefixes.v4/v6 hold one each.
    void ip_prefixes(const YAML::Node& value, const std::string& where) {
        p_.warnings.push_back(where +
                              ": ip_prefixes is headscale's old name for \"prefixes.v4\" and "
                              "\"prefixes.v6\"; using it, but please rename it");
        if (!value.IsSequence()) {
            p_.errors.push_back(where + ": ip_prefixes: expected a list of prefixes");
            return;
        }
        for (const auto& item : value) {
            if (!item.IsScalar()) {
                p_.errors.push_back(where + ": ip_prefixes: expected a list of prefixes");
                return;
            }
            const bool v6 = item.Scalar().find(':') != std::string::npos;
            out.push_back({v6 ? "prefixes.v6" : "prefixes.v4", item, where, "ip_prefixes"});
        }
    }

    std::string name_;
    Problems& p_;
};

std::string env_name(const std::string& path) {
    std::string out = "HEADSCALE_";
    for (char ch : path)
        out.push_back(ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
    return out;
}

std::string dir_of(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

LoadedConfig load(const std::string& text, const std::string& name, const std::string& base_dir, bool use_env) {
    Problems p;
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        throw ConfigError(name + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
    }
    Walker w(name, p);
    try {
        w.walk(root, "");
    } catch (const YAML::Exception& e) {
        throw ConfigError(name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }

    if (use_env) {
        for (const auto& f : fields()) {
            const auto var = env_name(f.path);
            if (const char* v = std::getenv(var.c_str())) {
                YAML::Node n;
                try {
                    n = YAML::Load(v);
                } catch (const YAML::Exception&) {
                    n = YAML::Node(std::string(v));
                }
                w.out.push_back({f.path, n, "environment " + var, ""});
            }
        }
    }

    // Current keys and the environment win over legacy keys for the same setting.
    std::set<std::string> set_by_current;
    for (const auto& a : w.out)
        if (a.legacy_from.empty()) set_by_current.insert(a.path);

    Config c;
    c.path = name;
    // Default files live beside the config file, as the file's own relative paths do.
    if (!base_dir.empty()) {
        c.noise_private_key_path = base_dir + "/" + c.noise_private_key_path;
        c.derp.private_key_path = base_dir + "/" + c.derp.private_key_path;
        c.database_path = base_dir + "/" + c.database_path;
    }
    std::map<std::string, std::string> where;
    std::set<std::string> legacy_applied;
    for (const auto& a : w.out) {
        if (!a.legacy_from.empty() && set_by_current.count(a.path)) {
            p.warnings.push_back(a.where + ": " + a.legacy_from + " ignored because \"" + a.path + "\" is also set");
            continue;
        }
        if (!a.legacy_from.empty() && a.legacy_from == "ip_prefixes" && legacy_applied.count(a.path)) {
            p.errors.push_back(a.where + ": ip_prefixes: more than one " + (a.path == "prefixes.v6" ? "IPv6" : "IPv4") +
                               " prefix; hs allocates from one prefix per family");
            continue;
        }
        if (!a.legacy_from.empty()) legacy_applied.insert(a.path);
        Reader r(a.value, a.legacy_from.empty() ? a.path : a.legacy_from, a.where, base_dir, p);
        try {
            find_field(a.path)->set(c, r);
        } catch (const YAML::Exception& e) {
            r.error(e.msg);
        }
        where[a.path] = a.where;
    }

    config_detail::validate(c, where, name, p);
    config_detail::warn_unsupported(c, where, p);
    if (!p.errors.empty()) {
        std::string msg;
        for (const auto& e : p.errors) msg += (msg.empty() ? "" : "\n") + e;
        throw ConfigError(msg);
    }
    return {std::move(c), std::move(p.warnings)};
}

}  // namespace

LoadedConfig load_config_text(const std::string& text, const std::string& name, const std::string& base_dir,
                              bool use_env) {
    return load(text, name, base_dir, use_env);
}

LoadedConfig load_config_file(const std::string& path, bool use_env) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError(path + ": cannot read config file: " + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw ConfigError(path + ": cannot read config file: " + std::strerror(errno));
    return load(ss.str(), path, dir_of(path), use_env);
}

}  // namespace hs
