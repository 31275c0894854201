#include "tools/hs-control/derp_refresh.h"

#include <thread>

#include <spdlog/spdlog.h>

#include "common/config/derpmap.h"
#include "common/net/http_fetch.h"

namespace hs::control {

DerpRefresher::DerpRefresher(boost::asio::io_context& io, const Config& cfg, std::string cert_name)
    : io_(io), cfg_(cfg), cert_name_(std::move(cert_name)) {}

DerpRefresher::~DerpRefresher() {
    for (auto& t : workers_)
        if (t.joinable()) t.join();
}

nlohmann::json DerpRefresher::build() {
    std::lock_guard lock(mu_);
    std::vector<std::string> failures;
    auto map = derp_map_from_config(
        cfg_, [](const std::string& url) { return http_get(url, std::chrono::seconds(10)); }, last_good_, failures,
        cert_name_);
    for (const auto& f : failures) spdlog::error("DERP map: {} (keeping the last good copy, if any)", f);
    return map;
}

nlohmann::json DerpRefresher::build_initial() {
    auto map = build();
    require_derp_regions(map);
    return map;
}

void DerpRefresher::refresh(Tailnet& tailnet) {
    if (busy_.exchange(true)) return;
    for (auto& t : workers_)
        if (t.joinable()) t.join();
    workers_.clear();
    workers_.emplace_back([this, &tailnet] {
        nlohmann::json map;
        try {
            map = build();
        } catch (const std::exception& e) {
            spdlog::error("DERP map refresh failed, keeping the current map: {}", e.what());
            busy_ = false;
            return;
        }
        boost::asio::post(io_, [this, &tailnet, map = std::move(map)]() mutable {
            busy_ = false;
            if (map["Regions"].empty()) {
                spdlog::error("DERP map refresh produced no regions; keeping the current map");
                return;
            }
            const auto before = tailnet.derp_map_json();
            tailnet.set_derp_map(std::move(map));
            if (before != tailnet.derp_map_json()) spdlog::info("DERP map changed; sent to connected clients");
        });
    });
}

void DerpRefresher::start(Tailnet& tailnet) {
    if (!cfg_.derp.auto_update_enabled || cfg_.derp.update_frequency.count() <= 0) return;
    if (!timer_) timer_ = std::make_unique<boost::asio::steady_timer>(io_);
    timer_->expires_after(cfg_.derp.update_frequency);
    timer_->async_wait([this, &tailnet](const boost::system::error_code& ec) {
        if (ec) return;
        refresh(tailnet);
        start(tailnet);
    });
}

}  // namespace hs::control
