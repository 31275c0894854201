// Rate limit for log lines that a peer can trigger at will (refused requests, floods): at most
// one line per kind per second, so that a flood costs a counter increment, not a disk.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>

namespace hs::control {

class LogLimit {
public:
    using Clock = std::chrono::steady_clock;
    explicit LogLimit(Clock::duration interval = std::chrono::seconds(1)) : interval_(interval) {}

    // True when a line of this kind may be written now; each kind has its own allowance.
    bool allow(std::string_view kind, Clock::time_point now = Clock::now()) {
        auto [it, fresh] = last_.try_emplace(std::string(kind), now);
        if (fresh) return true;
        if (now - it->second < interval_) return false;
        it->second = now;
        return true;
    }

private:
    Clock::duration interval_;
    std::map<std::string, Clock::time_point, std::less<>> last_;
};

}  // namespace hs::control
