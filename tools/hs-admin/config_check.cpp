// hs-admin config check: loads a config file the way hs-control does and prints the values it
// would use (defaults filled in, legacy keys mapped, relative paths resolved), under
// headscale's key names. Secrets are replaced by "<redacted>". configtest (headscale's) checks
// what hs-control would read at start (hs-control --check's preflight) and prints whether it is
// valid, with what start-up would create or migrate.
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "common/admin/net/preflight.h"
#include "common/admin/ops.h"
#include "common/base/duration.h"
#include "common/config/derpmap.h"
#include "common/policy/engine.h"
#include "tools/hs-admin/commands.h"

namespace hs::admin {
namespace {

json dur(Millis d) { return format_duration(d); }
std::string secret(const std::string& s) { return s.empty() ? "" : "<redacted>"; }

json oauth2_json(const Config::Oidc::OAuth2& a) {
    const auto& m = a.claims;
    return {{"authorization_endpoint", a.authorization_endpoint},
            {"token_endpoint", a.token_endpoint},
            {"userinfo_endpoint", a.userinfo_endpoint},
            {"issuer_name", a.issuer_name},
            {"token_endpoint_auth_method", a.token_endpoint_auth_method},
            {"claims",
             {{"subject", m.subject},
              {"email", m.email},
              {"email_verified", m.email_verified},
              {"name", m.name},
              {"username", m.username},
              {"picture", m.picture},
              {"groups", m.groups}}}};
}

json config_json(const Config& c) {
    json records = json::array();
    for (const auto& r : c.dns.extra_records)
        records.push_back({{"name", r.name}, {"type", r.type}, {"value", r.value}});
    json split = json::object();
    for (const auto& [domain, servers] : c.dns.nameservers_split) split[domain] = servers;
    json extra = json::object();
    for (const auto& [k, v] : c.oidc.extra_params) extra[k] = v;
    return {
        {"server_url", c.server_url},
        {"listen_addr", c.listen_addr},
        {"metrics_listen_addr", c.metrics_listen_addr},
        {"trusted_proxies", c.trusted_proxies},
        {"noise", {{"private_key_path", c.noise_private_key_path}}},
        {"prefixes", {{"v4", c.prefix_v4}, {"v6", c.prefix_v6}, {"allocation", c.allocation}}},
        {"derp",
         {{"server",
           {{"enabled", c.derp.server_enabled},
            {"region_id", c.derp.region_id},
            {"region_code", c.derp.region_code},
            {"region_name", c.derp.region_name},
            {"verify_clients", c.derp.verify_clients},
            {"stun_listen_addr", c.derp.stun_listen_addr},
            {"tls_listen_addr", c.derp.tls_listen_addr},
            {"private_key_path", c.derp.private_key_path},
            {"automatically_add_embedded_derp_region", c.derp.auto_add_embedded_region},
            {"ipv4", c.derp.ipv4},
            {"ipv6", c.derp.ipv6}}},
          {"urls", c.derp.urls},
          {"paths", c.derp.paths},
          {"auto_update_enabled", c.derp.auto_update_enabled},
          {"update_frequency", dur(c.derp.update_frequency)}}},
        {"node",
         {{"expiry", dur(c.node_expiry)},
          {"ephemeral", {{"inactivity_timeout", dur(c.ephemeral_inactivity_timeout)}}},
          {"routes",
           {{"ha", {{"probe_interval", dur(c.ha_probe_interval)}, {"probe_timeout", dur(c.ha_probe_timeout)}}}}}}},
        {"database",
         {{"type", c.database_type},
          {"sqlite",
           {{"path", c.database_path},
            {"write_ahead_log", c.database_wal},
            {"wal_autocheckpoint", c.database_wal_autocheckpoint}}},
          {"postgres",
           {{"host", c.postgres.host},
            {"port", c.postgres.port},
            {"name", c.postgres.name},
            {"user", c.postgres.user},
            {"pass", c.postgres.pass.empty() ? "" : "(set)"},
            {"pass_path", c.postgres.pass_path},
            {"ssl", c.postgres.ssl}}}}},
        {"acme_url", c.acme_url},
        {"acme_email", c.acme_email},
        {"tls_letsencrypt_hostname", c.tls_letsencrypt_hostname},
        {"tls_letsencrypt_cache_dir", c.tls_letsencrypt_cache_dir},
        {"tls_letsencrypt_challenge_type", c.tls_letsencrypt_challenge_type},
        {"tls_letsencrypt_listen", c.tls_letsencrypt_listen},
        {"tls_cert_path", c.tls_cert_path},
        {"tls_key_path", c.tls_key_path},
        {"log", {{"level", c.log_level}, {"format", c.log_format}}},
        {"policy", {{"mode", c.policy_mode}, {"path", c.policy_path}}},
        {"dns",
         {{"magic_dns", c.dns.magic_dns},
          {"base_domain", c.dns.base_domain},
          {"override_local_dns", c.dns.override_local_dns},
          {"nameservers", {{"global", c.dns.nameservers_global}, {"split", split}}},
          {"search_domains", c.dns.search_domains},
          {"extra_records", records},
          {"extra_records_path", c.dns.extra_records_path}}},
        {"api_listen_addr", c.api_listen_addr},
        {"auth", {{"allowed_cidrs", c.auth_allowed_cidrs}}},
        {"unix_socket", c.unix_socket},
        {"unix_socket_permission", c.unix_socket_permission},
        {"oidc",
         {{"only_start_if_oidc_is_available", c.oidc.only_start_if_oidc_is_available},
          {"issuer", c.oidc.issuer},
          {"client_id", c.oidc.client_id},
          {"client_secret", secret(c.oidc.client_secret)},
          {"client_secret_path", c.oidc.client_secret_path},
          {"scope", c.oidc.scope},
          {"extra_params", extra},
          {"allowed_domains", c.oidc.allowed_domains},
          {"allowed_users", c.oidc.allowed_users},
          {"allowed_groups", c.oidc.allowed_groups},
          {"email_verified_required", c.oidc.email_verified_required},
          {"pkce", {{"enabled", c.oidc.pkce_enabled}, {"method", c.oidc.pkce_method}}},
          {"use_expiry_from_token", c.oidc.use_expiry_from_token},
          {"oauth2", oauth2_json(c.oidc.oauth2)}}},
        {"logtail", {{"enabled", c.logtail_enabled}}},
        {"taildrop", {{"enabled", c.taildrop_enabled}}},
        {"auto_update", {{"enabled", c.auto_update_enabled}}},
        {"randomize_client_port", c.randomize_client_port},
    };
}

}  // namespace

void add_config(CLI::App& app, Context& ctx, Actions& actions) {
    auto* noun = add_noun(app, "config", "Check a configuration file");
    auto file = std::make_shared<std::string>();
    auto* check =
        add_verb(*noun, "check",
                 "Validate the config (-c) and print the values hs-control would use (YAML in table mode)", {"test"});
    check->add_option("FILE", *file, "The file to check (default: the one -c names)");
    actions[check] = [&ctx, file] {
        if (!file->empty()) ctx.config_flag = *file;
        const auto obj = config_json(ctx.config());
        print_text(ctx.format() == Format::table ? Format::yaml : ctx.format(), obj, "");
        return 0;
    };
    // headscale's configtest: exit 0 when the server would start with this config, else 1.
    auto* test =
        add_verb(app, "configtest",
                 "Check the config (-c), its DERP map files, the database and the policy; exit 1 on a problem");
    actions[test] = [&ctx] {
        // hs-control --check's own check: the two must never disagree.
        const auto result = preflight(ctx.config());
        if (!result.policy_problems.empty()) throw ConfigError(result.policy_problems);
        const auto path = hs::config_path(ctx.config_flag);
        std::string text = "configuration " + path + " is valid";
        for (const auto& n : result.notes) text += "\n  " + n;
        print_text(ctx.format(), json{{"config", path}, {"valid", true}, {"notes", result.notes}}, text);
        return 0;
    };
}

}  // namespace hs::admin
