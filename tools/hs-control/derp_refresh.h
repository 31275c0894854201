// Keeps the DERP map current: built at start (urls, paths, embedded region), rebuilt every
// derp.update_frequency when derp.auto_update_enabled is set and on SIGHUP. Fetching happens
// on a worker thread so a slow URL never stalls the clients; a failed fetch keeps the last
// good copy of that URL and is logged. Clients hear of the new map only when it changed.
#pragma once

#include <atomic>
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

#include "common/config/config.h"
#include "common/net/asio.h"
#include "tools/hs-control/tailnet.h"

namespace hs::control {

class DerpRefresher {
public:
    // `cert_name` pins the embedded DERP's self-signed certificate ("" when none).
    DerpRefresher(boost::asio::io_context& io, const Config& cfg, std::string cert_name = "");
    ~DerpRefresher();

    // Blocking; for the start. Throws when files are broken or the map ends up empty.
    nlohmann::json build_initial();
    // Periodic refresh into `tailnet`, if the config asks for it.
    void start(Tailnet& tailnet);
    // One refresh now (SIGHUP); ignored while one is running.
    void refresh(Tailnet& tailnet);

private:
    nlohmann::json build();

    boost::asio::io_context& io_;
    const Config& cfg_;
    std::string cert_name_;
    std::mutex mu_;  // guards last_good_ between the worker and the start
    std::map<std::string, nlohmann::json> last_good_;
    std::atomic<bool> busy_{false};
    std::unique_ptr<boost::asio::steady_timer> timer_;
    std::vector<std::thread> workers_;
};

}  // namespace hs::control
