#include "common/derp/net/webhook.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/base/log.h"
#include "common/net/http_fetch.h"

namespace hs::derp {

std::string webhook_body(const PublicKey& key, const IpAddr& source) {
    nlohmann::ordered_json j;
    j["NodePublic"] = key_text(kNodePrefix, key.bytes);
    j["Source"] = source.str();
    return j.dump();
}

bool webhook_allows(int status, std::string_view body) {
    if (status != 200) return false;
    const auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return false;
    for (const auto& [name, v] : j.items()) {
        std::string k = name;
        std::transform(k.begin(), k.end(), k.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (k == "allow") return v.is_boolean() && v.get<bool>();
    }
    return false;
}

WebhookVerifier::WebhookVerifier(std::string url, bool fail_open, net::any_io_executor pool,
                                 std::chrono::milliseconds timeout)
    : url_(std::move(url)), fail_open_(fail_open), pool_(std::move(pool)), timeout_(timeout) {}

bool WebhookVerifier::ask(const PublicKey& key, const IpAddr& source) const {
    const std::string who = key_text(kNodePrefix, key.bytes);
    try {
        const auto res = http_post(url_, webhook_body(key, source), timeout_);
        const bool allow = webhook_allows(res.status, res.body);
        if (!allow)
            spdlog::info("verify-client-url: {} not allowed (status {}, body {:.100})", who, res.status, res.body);
        return allow;
    } catch (const FetchError& e) {
        // An outage is not a verdict: derper admits then by default so a webhook restart does
        // not cut every reconnecting client off.
        spdlog::warn("verify-client-url: {}; {} {}", e.what(), fail_open_ ? "admitting" : "refusing", who);
        return fail_open_;
    }
}

net::awaitable<bool> WebhookVerifier::admit(const PublicKey& key, const ConnMeta& meta) {
    const IpAddr source = meta.ip;
    co_return co_await net::co_spawn(
        pool_, [this, key, source]() -> net::awaitable<bool> { co_return ask(key, source); }, net::use_awaitable);
}

}  // namespace hs::derp
