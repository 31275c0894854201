#include "common/admin/throttle.h"

#include <algorithm>
#include <cmath>

namespace hs::admin {

Throttle::Bucket& Throttle::refill(const std::string& source, TimePoint now) {
    auto it = sources_.find(source);
    if (it == sources_.end()) {
        if (sources_.size() >= c_.max_sources) {
            // Forget sources whose bucket has refilled: they would start full anyway.
            std::erase_if(sources_, [&](const auto& kv) {
                const std::chrono::duration<double> idle = now - kv.second.at;
                return kv.second.tokens + idle.count() * c_.per_second >= c_.burst;
            });
        }
        it = sources_.emplace(source, Bucket{c_.burst, now}).first;
    }
    auto& b = it->second;
    const std::chrono::duration<double> elapsed = now - b.at;
    if (elapsed.count() > 0) b.tokens = std::min(c_.burst, b.tokens + elapsed.count() * c_.per_second);
    b.at = now;
    return b;
}

std::optional<std::chrono::seconds> Throttle::source_wait(const std::string& source, TimePoint now) {
    auto& b = refill(source, now);
    if (b.tokens >= 1) return std::nullopt;
    // Retry-After is whole seconds (RFC 9110 10.2.3); round up so a retry on time succeeds.
    return std::chrono::seconds(static_cast<long>(std::ceil((1 - b.tokens) / c_.per_second)));
}

bool Throttle::failure(const std::string& source, const std::string& key, TimePoint now) {
    auto& b = refill(source, now);
    b.tokens = std::max(0.0, b.tokens - 1);
    if (key.empty()) return false;
    auto& k = keys_[key];
    if (k.locked_until && *k.locked_until > now) return false;  // already locked
    if (k.failures == 0 || now - k.window_start > c_.key_window) {
        k.failures = 0;
        k.window_start = now;
    }
    if (++k.failures < c_.key_failures) return false;
    auto lock = c_.first_lockout;
    for (int i = 0; i < k.lockouts && lock < c_.max_lockout; ++i) lock *= 2;
    k.locked_until = now + std::min(lock, c_.max_lockout);
    ++k.lockouts;
    k.failures = 0;
    return true;
}

std::optional<TimePoint> Throttle::locked_until(const std::string& key, TimePoint now) const {
    const auto it = keys_.find(key);
    if (it == keys_.end() || !it->second.locked_until || *it->second.locked_until <= now) return std::nullopt;
    return it->second.locked_until;
}

void Throttle::success(const std::string& key) {
    if (auto it = keys_.find(key); it != keys_.end()) it->second.failures = 0;
}

}  // namespace hs::admin
