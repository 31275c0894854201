#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/base/duration.h"
#include "common/config/config.h"
#include "common/config/database.h"

using namespace hs;
using Catch::Contains;

namespace {

LoadedConfig load(const std::string& yaml) { return load_config_text(yaml, "test.yaml", "/etc/hs"); }

std::string errors_of(const std::string& yaml) {
    try {
        load(yaml);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

bool has_warning(const LoadedConfig& lc, const std::string& needle) {
    for (const auto& w : lc.warnings)
        if (w.find(needle) != std::string::npos) return true;
    return false;
}

const std::string kMinimal = "dns:\n  base_domain: tailnet.test\n";

// Exactly these warnings, each once (as substrings), in any order.
void check_warnings(const LoadedConfig& lc, std::initializer_list<const char*> expected) {
    CHECK(lc.warnings.size() == expected.size());
    for (const char* e : expected) {
        INFO("expected a warning containing: " << e);
        CHECK(has_warning(lc, e));
    }
}

}  // namespace

TEST_CASE("a minimal config gets working defaults") {
    const auto lc = load(kMinimal);
    const auto& c = lc.config;
    CHECK(c.listen_addr == "127.0.0.1:8080");
    CHECK(c.server_url == "http://127.0.0.1:8080");
    CHECK(c.prefix_v4 == "100.64.0.0/10");
    CHECK(c.prefix_v6 == "fd7a:115c:a1e0::/48");
    CHECK(c.database_path == "/etc/hs/db.sqlite");
    CHECK(c.noise_private_key_path == "/etc/hs/noise_private.key");
    CHECK(c.ephemeral_inactivity_timeout == std::chrono::seconds(120));
    CHECK(lc.warnings.empty());
}

TEST_CASE("headscale 0.29 example config loads, warning once for each setting hs does not honour") {
    const auto lc = load_config_file(std::string(HS_TEST_DATA) + "/headscale-0.29.yaml", false);
    const auto& c = lc.config;
    check_warnings(lc, {"grpc_listen_addr, grpc_allow_insecure: hs has no gRPC API",
                        "unix_socket, unix_socket_permission: hs has no admin socket",
                        "node.routes.ha.probe_interval, node.routes.ha.probe_timeout: hs does not probe",
                        "database.gorm.slow_threshold: no effect in hs"});
    CHECK(c.server_url == "http://127.0.0.1:8080");
    CHECK(c.metrics_listen_addr == "127.0.0.1:9090");
    CHECK(c.noise_private_key_path == "/var/lib/headscale/noise_private.key");
    CHECK(c.derp.region_id == 999);
    CHECK(c.derp.region_code == "headscale");
    CHECK(c.derp.urls.size() == 1);
    CHECK(c.derp.update_frequency == std::chrono::hours(3));
    CHECK(c.ephemeral_inactivity_timeout == std::chrono::minutes(30));
    CHECK(c.database_path == "/var/lib/headscale/db.sqlite");
    CHECK(c.dns.base_domain == "example.com");
    CHECK(c.dns.override_local_dns);
    CHECK(c.dns.nameservers_global.size() == 4);
    CHECK(c.taildrop_enabled);
}

TEST_CASE("headscale 0.16 config loads with a warning per legacy key") {
    const auto lc = load_config_file(std::string(HS_TEST_DATA) + "/headscale-0.16.yaml", false);
    const auto& c = lc.config;
    CHECK(c.prefix_v4 == "100.64.0.0/10");
    CHECK(c.prefix_v6 == "fd7a:115c:a1e0::/48");
    CHECK(c.database_type == "sqlite");
    // Relative paths resolve against the config file's directory.
    CHECK(c.database_path == std::string(HS_TEST_DATA) + "/db.sqlite");
    CHECK(c.policy_path == std::string(HS_TEST_DATA) + "/acl.hujson");
    CHECK(c.dns.base_domain == "example.com");
    CHECK(c.dns.nameservers_global == std::vector<std::string>{"1.1.1.1"});
    CHECK(c.ephemeral_inactivity_timeout == std::chrono::minutes(30));
    CHECK(has_warning(lc, "ip_prefixes is headscale's old name for \"prefixes.v4\""));
    CHECK(has_warning(lc, "db_type is headscale's old name for \"database.type\""));
    CHECK(has_warning(lc, "db_path is headscale's old name for \"database.sqlite.path\""));
    CHECK(has_warning(lc, "acl_policy_path is headscale's old name for \"policy.path\""));
    CHECK(has_warning(lc, "log_level is headscale's old name for \"log.level\""));
    CHECK(has_warning(lc, "dns_config.nameservers is headscale's old name for \"dns.nameservers.global\""));
    CHECK(has_warning(lc, "dns_config.base_domain is headscale's old name for \"dns.base_domain\""));
    CHECK(has_warning(lc, "ephemeral_node_inactivity_timeout is headscale's old name"));
    CHECK(has_warning(lc, "private_key_path: no longer has any effect"));
    CHECK(has_warning(lc, "node_update_check_interval: no longer has any effect"));
    CHECK(has_warning(lc, "tls_client_auth_mode: no longer has any effect"));
    // Every warning carries file:line.
    for (const auto& w : lc.warnings) CHECK_THAT(w, Contains("headscale-0.16.yaml:"));
}

TEST_CASE("the current key wins over its legacy name") {
    const auto lc = load(kMinimal + "db_path: /old.db\ndatabase:\n  sqlite:\n    path: /new.db\n");
    CHECK(lc.config.database_path == "/new.db");
    CHECK(has_warning(lc, "db_path ignored because \"database.sqlite.path\" is also set"));
}

TEST_CASE("malformed YAML is reported with its line") {
    CHECK_THAT(errors_of("server_url: http://x\nlisten_addr: [unclosed\n"),
               Contains("test.yaml:") && Contains("invalid YAML"));
    CHECK_THAT(errors_of("a: b\n  c: d\n"), Contains("invalid YAML"));
}

TEST_CASE("wrong types name file, line and key") {
    CHECK_THAT(errors_of(kMinimal + "derp:\n  server:\n    enabled: maybe\n"),
               Contains("test.yaml:5: derp.server.enabled: expected true or false"));
    CHECK_THAT(errors_of(kMinimal + "derp:\n  urls: https://x\n"), Contains("test.yaml:4: derp.urls: expected a list"));
    CHECK_THAT(errors_of(kMinimal + "listen_addr: [a, b]\n"), Contains("listen_addr: expected a string, got a list"));
    CHECK_THAT(errors_of(kMinimal + "derp:\n  server:\n    region_id: abc\n"),
               Contains("derp.server.region_id: expected an integer"));
    CHECK_THAT(errors_of(kMinimal + "node:\n  expiry: soon\n"), Contains("node.expiry: invalid duration \"soon\""));
    CHECK_THAT(errors_of("dns: [1, 2]\n"), Contains("dns: expected a mapping"));
}

TEST_CASE("unknown keys are errors with a suggestion") {
    CHECK_THAT(errors_of(kMinimal + "server_ur: http://x\n"),
               Contains("test.yaml:3: server_ur: unknown key (did you mean \"server_url\"?)"));
    CHECK_THAT(errors_of(kMinimal + "derp:\n  server:\n    enabeld: true\n"),
               Contains("derp.server.enabeld: unknown key (did you mean \"derp.server.enabled\"?)"));
    CHECK_THAT(errors_of(kMinimal + "completely_new: 1\n"), Contains("completely_new: unknown key"));
}

TEST_CASE("a key given twice in one mapping is an error naming both lines") {
    // Two auth: blocks: yaml-cpp keeps both, so one would silently win key by key.
    CHECK_THAT(errors_of(kMinimal + "auth:\n  allowed_cidrs: []\nauth:\n  device_approval: true\n"),
               Contains("test.yaml:5: auth: given twice (first at test.yaml:3)"));
    CHECK_THAT(errors_of(kMinimal + "derp:\n  server:\n    enabled: true\n    enabled: false\n"),
               Contains("derp.server.enabled: given twice"));
}

TEST_CASE("oidc.oauth2: OIDC-only keys and oauth2 keys without endpoints warn that they do nothing") {
    const std::string endpoints =
        "    authorization_endpoint: https://github.com/login/oauth/authorize\n"
        "    token_endpoint: https://github.com/login/oauth/access_token\n"
        "    userinfo_endpoint: https://api.github.com/user\n";
    const auto lc = load(kMinimal +
                         "oidc:\n  client_id: x\n  client_secret: y\n  clock_skew: 30s\n"
                         "  only_start_if_oidc_is_available: false\n  oauth2:\n" +
                         endpoints);
    check_warnings(lc, {"oidc.clock_skew: does nothing with oidc.oauth2",
                        "oidc.only_start_if_oidc_is_available: does nothing with oidc.oauth2"});
    const auto off = load(kMinimal + "oidc:\n  oauth2:\n    claims: {username: login}\n");
    check_warnings(off, {"oidc.oauth2.claims.username: does nothing: no oidc.oauth2 endpoint is set"});
}

TEST_CASE("auth.limits: read, and durations under a second or a max below the lockout refused") {
    const auto lc = load(kMinimal +
                         "auth:\n  limits: {source_burst: 5, source_refill: 2s, failures: 3, window: 1h,"
                         " lockout: 30m, max_lockout: 12h}\n");
    CHECK(lc.config.limits.source_burst == 5);
    CHECK(lc.config.limits.source_refill == std::chrono::seconds(2));
    CHECK(lc.config.limits.failures == 3);
    CHECK(lc.config.limits.window == std::chrono::hours(1));
    CHECK(lc.config.limits.lockout == std::chrono::minutes(30));
    CHECK(lc.config.limits.max_lockout == std::chrono::hours(12));
    CHECK_THAT(errors_of(kMinimal + "auth:\n  limits: {source_refill: 500ms}\n"),
               Contains("auth.limits.source_refill: must be at least 1s"));
    CHECK_THAT(errors_of(kMinimal + "auth:\n  limits: {lockout: 2h, max_lockout: 1h}\n"),
               Contains("auth.limits.max_lockout: must not be shorter than auth.limits.lockout"));
    CHECK_THAT(errors_of(kMinimal + "auth:\n  limits: {failures: 0}\n"), Contains("auth.limits.failures"));
}

TEST_CASE("invalid values are rejected with file:line and key") {
    CHECK_THAT(errors_of(kMinimal + "server_url: ftp://x\n"), Contains("test.yaml:3: server_url:"));
    CHECK_THAT(errors_of(kMinimal + "listen_addr: localhost\n"),
               Contains("listen_addr: \"localhost\" is not host:port"));
    CHECK_THAT(errors_of(kMinimal + "prefixes:\n  v4: 100.64.0.1/10\n"), Contains("test.yaml:4: prefixes.v4:"));
    CHECK_THAT(errors_of(kMinimal + "prefixes:\n  v4: fd7a::/48\n"), Contains("is not an IPv4 prefix"));
    CHECK_THAT(errors_of(kMinimal + "prefixes:\n  allocation: clever\n"),
               Contains("prefixes.allocation: \"clever\" is not one of sequential, random"));
    CHECK_THAT(errors_of(kMinimal + "database:\n  type: postgres\n"),
               Contains("database.postgres.name: must name the database"));
    CHECK_THAT(errors_of(kMinimal + "database:\n  type: postgres\n  postgres: {name: hs, ssl: sometimes}\n"),
               Contains("database.postgres.ssl: \"sometimes\" is not one of"));
    CHECK_THAT(errors_of(kMinimal + "database:\n  type: mysql\n"), Contains("database.type: \"mysql\" is not one of"));
    CHECK_THAT(errors_of(kMinimal + "log:\n  level: loud\n"), Contains("log.level: \"loud\" is not one of"));
    CHECK_THAT(errors_of(kMinimal + "node:\n  ephemeral:\n    inactivity_timeout: 30s\n"),
               Contains("must be longer than 65s"));
    CHECK_THAT(errors_of(kMinimal + "derp:\n  server:\n    enabled: true\n"),
               Contains("stun_listen_addr: is required"));
    CHECK_THAT(errors_of(kMinimal + "tls_cert_path: /a.pem\n"), Contains("must be set together"));
    CHECK_THAT(errors_of(kMinimal + "  override_local_dns: true\n"), Contains("dns.nameservers.global is empty"));
    CHECK_THAT(errors_of("dns:\n  magic_dns: true\n"), Contains("test.yaml (not set): dns.base_domain: is required"));
    CHECK_THAT(errors_of("server_url: https://hs.example.com\ndns:\n  base_domain: example.com\n"),
               Contains("must not contain the server's own host name"));
    CHECK_THAT(errors_of(kMinimal + "  extra_records:\n    - {name: a, type: A, value: fd7a::1}\n"),
               Contains("is not an IPv4 address"));
    CHECK_THAT(errors_of(kMinimal + "trusted_proxies: [0.0.0.0/0]\n"), Contains("would trust every address"));
}

TEST_CASE("every problem of one file is reported at once") {
    const auto e = errors_of("server_ur: x\nlog:\n  level: loud\nprefixes:\n  v4: nope\n");
    CHECK_THAT(
        e, Contains("server_ur") && Contains("log.level") && Contains("prefixes.v4") && Contains("dns.base_domain"));
}

TEST_CASE("HEADSCALE_ environment variables override the file") {
    ::setenv("HEADSCALE_LISTEN_ADDR", "127.0.0.1:9999", 1);
    ::setenv("HEADSCALE_DERP_URLS", "[]", 1);
    const auto lc = load_config_text(kMinimal + "listen_addr: 127.0.0.1:1\nderp:\n  urls: [https://a.example/x]\n",
                                     "test.yaml", "/etc/hs", true);
    ::unsetenv("HEADSCALE_LISTEN_ADDR");
    ::unsetenv("HEADSCALE_DERP_URLS");
    CHECK(lc.config.listen_addr == "127.0.0.1:9999");
    CHECK(lc.config.derp.urls.empty());
}

TEST_CASE("an unreadable config file is a clear error") {
    CHECK_THROWS_WITH(load_config_file("/nonexistent/hs/config.yaml"),
                      Contains("/nonexistent/hs/config.yaml: cannot read config file"));
}

TEST_CASE("durations") {
    using namespace std::chrono;
    CHECK(parse_duration("0") == milliseconds(0));
    CHECK(parse_duration("90s") == seconds(90));
    CHECK(parse_duration("1h30m") == minutes(90));
    CHECK(parse_duration("180d") == hours(180 * 24));
    CHECK(parse_duration("2w") == hours(14 * 24));
    CHECK(parse_duration("1y") == hours(365 * 24));
    CHECK(parse_duration("250ms") == milliseconds(250));
    CHECK(format_duration(minutes(90)) == "1h30m");
    CHECK(format_duration(hours(240)) == "10d");
    CHECK(format_duration(hours(14 * 24)) == "2w");
    for (auto bad : {"", "s", "10", "10x", "-5s", "1.5h", "5 s", "99999999999999999999y"})
        CHECK_THROWS_AS(parse_duration(bad), DurationError);
}

TEST_CASE("examples/config.yaml loads without warnings") {
    const auto lc = load_config_file(std::string(HS_TEST_DATA) + "/../../../examples/config.yaml", false);
    CHECK(lc.warnings.empty());
    CHECK(lc.config.dns.base_domain == "tailnet.example.com");
    CHECK(lc.config.derp.urls.empty());
}

TEST_CASE("keys hs does not honour warn once each, naming what hs does instead") {
    const auto lc = load(
        "dns:\n  base_domain: tailnet.test\n  extra_records_path: /etc/hs/records.json\n"
        "trusted_proxies: [10.0.0.0/8]\nauto_update: {enabled: true}\n"
        "cli: {address: 'hs.example.com:443'}\ntuning: {batcher_workers: 4}\n");
    check_warnings(lc, {"dns.extra_records_path: hs does not read this file",
                        "auto_update.enabled: hs does not send the default-auto-update node capability",
                        "cli.address: hs-admin does not read these", "tuning.batcher_workers: no effect in hs"});
    for (const auto& w : lc.warnings) CHECK_THAT(w, Contains("test.yaml:"));
    // Settings equal to hs's behaviour say nothing (OIDC keys without an issuer, as in headscale).
    const auto quiet = load(kMinimal +
                            "oidc: {client_id: hs, pkce: {enabled: true}}\nauto_update: {enabled: false}\n"
                            "node: {routes: {ha: {probe_interval: 0s}}}\n");
    CHECK(quiet.warnings.empty());
}

TEST_CASE("ACME and certificate files are one choice, not both") {
    CHECK(errors_of(kMinimal + "tls_letsencrypt_hostname: hs.example.com\n").empty());
    CHECK_THAT(
        errors_of(kMinimal + "tls_letsencrypt_hostname: hs.example.com\ntls_cert_path: /a.pem\ntls_key_path: /a.key\n"),
        Contains("tls_letsencrypt_hostname: cannot be combined with tls_cert_path/tls_key_path"));
}

TEST_CASE("dns.override_local_dns defaults to true, as in headscale, when there are nameservers") {
    CHECK(load(kMinimal).config.dns.override_local_dns == false);  // nothing to override with
    CHECK(load("dns:\n  base_domain: t.test\n  nameservers: {global: [1.1.1.1]}\n").config.dns.override_local_dns);
    CHECK_FALSE(load("dns:\n  base_domain: t.test\n  override_local_dns: false\n  nameservers: {global: [1.1.1.1]}\n")
                    .config.dns.override_local_dns);
}

TEST_CASE("the embedded DERP's mesh and webhook keys") {
    const std::string derp =
        kMinimal +
        "server_url: https://hs.example.com\nderp:\n  server:\n    enabled: true\n    stun_listen_addr: 0.0.0.0:3478\n"
        "    mesh_key_path: mesh.key\n    mesh_with: [derp1.example.com, 'derp2.example.com:8443']\n"
        "    verify_client_url: https://hs.example.com/verify\n"
        "    verify_client_url_fail_open: false\n";
    const auto lc = load(derp);
    CHECK(lc.warnings.empty());
    CHECK(lc.config.derp.mesh_key_path == "/etc/hs/mesh.key");  // relative to the config file
    CHECK(lc.config.derp.mesh_with == std::vector<std::string>{"derp1.example.com", "derp2.example.com:8443"});
    CHECK(lc.config.derp.verify_client_url == "https://hs.example.com/verify");
    CHECK_FALSE(lc.config.derp.verify_client_url_fail_open);
    CHECK(load(kMinimal).config.derp.verify_client_url_fail_open);  // derper's default

    CHECK_THAT(errors_of(kMinimal + "derp:\n  server:\n    mesh_with: [a.example.com]\n"),
               Contains("derp.server.mesh_with: needs derp.server.mesh_key_path"));
    CHECK_THAT(errors_of(kMinimal + "derp:\n  server:\n    verify_client_url: hs.example.com/verify\n"),
               Contains("derp.server.verify_client_url: \"hs.example.com/verify\" is not an http(s) URL"));
    CHECK_THAT(errors_of(kMinimal + "derp:\n  server:\n    mesh_with: a.example.com\n"), Contains("expected a list"));
    // Accepted but idle keys say so.
    const auto off = load(kMinimal + "derp:\n  server:\n    mesh_key_path: m.key\n    verify_client_url: http://x/v\n");
    check_warnings(off, {"mesh_key_path: no effect: derp.server.enabled is false",
                         "verify_client_url: no effect: derp.server.enabled is false"});
}

TEST_CASE("oidc.oauth2: read, GitHub's claim defaults, and the combinations refused") {
    const std::string gh =
        "oidc:\n  client_id: hs\n  oauth2:\n"
        "    authorization_endpoint: https://github.com/login/oauth/authorize\n"
        "    token_endpoint: https://github.com/login/oauth/access_token\n"
        "    userinfo_endpoint: https://api.github.com/user\n";
    const auto lc = load(kMinimal + gh);
    const auto& a = lc.config.oidc.oauth2;
    CHECK(lc.config.oidc.enabled());
    CHECK(a.enabled());
    CHECK(a.userinfo_endpoint == "https://api.github.com/user");
    CHECK(a.token_endpoint_auth_method == "client_secret_basic");
    CHECK(a.claims.subject == "id");
    CHECK(a.claims.username == "login");
    CHECK(a.claims.picture == "avatar_url");
    const auto mapped = load(kMinimal + gh +
                             "    issuer_name: github\n    token_endpoint_auth_method: client_secret_post\n"
                             "    claims: {subject: sub, username: preferred_username, groups: ''}\n");
    CHECK(mapped.config.oidc.oauth2.issuer_name == "github");
    CHECK(mapped.config.oidc.oauth2.token_endpoint_auth_method == "client_secret_post");
    CHECK(mapped.config.oidc.oauth2.claims.subject == "sub");
    CHECK(mapped.config.oidc.oauth2.claims.groups.empty());
    CHECK_FALSE(load(kMinimal).config.oidc.enabled());

    CHECK_THAT(errors_of(kMinimal + gh + "  issuer: https://id.example.com\n"),
               Contains("oidc.oauth2: cannot be combined with oidc.issuer"));
    CHECK_THAT(errors_of(kMinimal + "oidc:\n  oauth2: {authorization_endpoint: https://a.example/auth}\n"),
               Contains("oidc.oauth2.token_endpoint: must be set with the other oidc.oauth2 endpoints"));
    CHECK_THAT(errors_of(kMinimal + gh + "    token_endpoint_auth_method: private_key_jwt\n"),
               Contains("oidc.oauth2.token_endpoint_auth_method: \"private_key_jwt\" is not one of"));
    CHECK_THAT(errors_of(kMinimal + gh + "  use_expiry_from_token: true\n"),
               Contains("oidc.use_expiry_from_token: needs an ID token"));
    CHECK_THAT(errors_of(kMinimal + gh + "    claims: {subject: ''}\n"),
               Contains("oidc.oauth2.claims.subject: must not be empty"));
    const std::string plain =
        "oidc:\n  oauth2: {authorization_endpoint: http://id.example.com/a, "
        "token_endpoint: http://127.0.0.1:9/t, userinfo_endpoint: https://id.example.com/u}\n";
    const auto err = errors_of(kMinimal + plain);
    CHECK_THAT(err, Contains("oidc.oauth2.authorization_endpoint: \"http://id.example.com/a\" is not an https URL"));
    CHECK_THAT(err, !Contains("oidc.oauth2.token_endpoint"));  // http to this machine is accepted
}

TEST_CASE("database.type postgres: headscale's keys become a libpq connection string") {
    const auto lc = load(kMinimal +
                         "database:\n  type: postgresql\n  sqlite: {path: /x/db.sqlite}\n"
                         "  postgres: {host: /run/postgresql, port: 6543, name: hs, user: hs, pass: \"it's\\\\x\", "
                         "ssl: true, max_open_conns: 5}\n");
    const auto& c = lc.config;
    CHECK(c.database_type == "postgres");
    CHECK(database_is_postgres(c));
    CHECK(postgres_conninfo(c) ==
          "connect_timeout=10 tcp_user_timeout=5000 application_name=hs host='/run/postgresql' port='6543' dbname='hs' "
          "user='hs' "
          "password='it\\'s\\\\x' sslmode='require'");
    // Messages name the server, never the password.
    CHECK(database_name(c) == "PostgreSQL hs at /run/postgresql:6543");
    CHECK(database_options(c).postgres == postgres_conninfo(c));
    check_warnings(lc, {"database.sqlite.path: no effect with database.type postgres",
                        "database.postgres.max_open_conns: no effect in hs"});

    const auto plain = load(kMinimal + "database:\n  type: postgres\n  postgres: {name: hs, ssl: false}\n").config;
    CHECK(postgres_conninfo(plain) ==
          "connect_timeout=10 tcp_user_timeout=5000 application_name=hs dbname='hs' sslmode='disable'");
    CHECK(database_name(plain) == "PostgreSQL hs at localhost:5432");

    // pass_path: the file's content is the password; with pass it is an error.
    const auto pw = std::filesystem::temp_directory_path() / ("hs-config-pw-" + std::to_string(::getpid()));
    std::ofstream(pw) << "from a file\n";
    const auto from_file =
        load(kMinimal + "database:\n  type: postgres\n  postgres: {name: hs, pass_path: " + pw.string() + "}\n").config;
    CHECK_THAT(postgres_conninfo(from_file), Contains(" password='from a file' "));
    std::filesystem::remove(pw);
    CHECK_THROWS_WITH(postgres_conninfo(from_file),
                      Contains("database.postgres.pass_path " + pw.string() + ": cannot open"));
    CHECK_THAT(errors_of(kMinimal + "database:\n  type: postgres\n  postgres: {name: hs, pass: x, pass_path: /p}\n"),
               Contains("database.postgres.pass_path: cannot be combined with database.postgres.pass"));

    const auto sqlite = load(kMinimal + "database:\n  postgres: {host: db.example.com}\n");
    CHECK(database_options(sqlite.config).postgres.empty());
    CHECK(database_name(sqlite.config) == "/etc/hs/db.sqlite");
    check_warnings(sqlite, {"database.postgres.host: no effect with database.type sqlite"});
}
