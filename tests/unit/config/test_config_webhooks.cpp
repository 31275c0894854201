#include <catch2/catch.hpp>

#include "common/config/config.h"

using namespace hs;
using Catch::Contains;

namespace {

std::string errors_of(const std::string& yaml) {
    try {
        load_config_text(yaml, "test.yaml", "/etc/hs");
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

const std::string kBase = "dns: {base_domain: tailnet.test}\n";

}  // namespace

TEST_CASE("notifications.webhooks: url, secret_path resolved against the config's directory, events, timeout") {
    const auto c = load_config_text(kBase + R"(notifications:
  webhooks:
    - url: https://alerts.example.com/hs
      secret_path: webhook.secret
      events: [signin.locked, apikey.created]
      timeout: 3s
    - {url: 'http://127.0.0.1:9000/', secret_path: /run/secret}
)",
                                    "test.yaml", "/etc/hs")
                       .config;
    REQUIRE(c.webhooks.size() == 2);
    CHECK(c.webhooks[0].url == "https://alerts.example.com/hs");
    CHECK(c.webhooks[0].secret_path == "/etc/hs/webhook.secret");
    CHECK(c.webhooks[0].events == std::vector<std::string>{"signin.locked", "apikey.created"});
    CHECK(c.webhooks[0].timeout == std::chrono::seconds(3));
    CHECK(c.webhooks[1].events.empty());
    CHECK(c.webhooks[1].timeout == std::chrono::seconds(10));
    CHECK(load_config_text(kBase, "test.yaml", "/etc/hs").config.webhooks.empty());
}

TEST_CASE("notifications.webhooks: a bad entry is an error naming the file, line and problem") {
    CHECK_THAT(errors_of(kBase + "notifications: {webhooks: [{url: 'ftp://x/', secret_path: s}]}\n"),
               Contains("test.yaml:2") && Contains("expected an http:// or https:// URL"));
    CHECK_THAT(errors_of(kBase + "notifications: {webhooks: [{url: 'https:///x', secret_path: s}]}\n"),
               Contains("no host"));
    CHECK_THAT(errors_of(kBase + "notifications: {webhooks: [{url: 'https://x/'}]}\n"),
               Contains("needs string fields url and secret_path"));
    CHECK_THAT(errors_of(kBase + "notifications: {webhooks: [{url: 'https://x/', secret_path: s, secret: t}]}\n"),
               Contains("webhook field secret is not known"));
    CHECK_THAT(errors_of(kBase + "notifications: {webhooks: [{url: 'https://x/', secret_path: s, timeout: 0s}]}\n"),
               Contains("timeout must be more than 0"));
    CHECK_THAT(errors_of(kBase + "notifications: {webhooks: {url: 'https://x/'}}\n"), Contains("expected a list"));
}
