// Attempt limits for credentials (issue 16), transport-free: the caller says who tried what
// and when, and learns whether to answer at all. hs-control's LoginGuard
// (tools/hs-control/login_guard.h) wraps it and stores the per-key state.
//
// Per source address: each failed attempt takes a token from a bucket that refills at
// `per_second` up to `burst`; an empty bucket means "429, Retry-After: wait". Only failures
// cost, so a client that knows its key is never slowed by its own successes.
// Per key (prefix or account): `key_failures` failures within `key_window` lock the key for
// `first_lockout`, doubled on each further lockout up to `max_lockout`. A correct key from any
// address is refused while its key is locked, and accepted otherwise.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "common/base/timeutil.h"

namespace hs::admin {

struct ThrottleConfig {
    double burst = 20;                            // failures a source may make at once
    double per_second = 1;                        // then this many a second
    int key_failures = 5;                         // issue 16's default: 5 failures ...
    std::chrono::seconds key_window{15 * 60};     // ... in 15 minutes
    std::chrono::seconds first_lockout{15 * 60};  // locks for 15 minutes, then 30, 60, ...
    std::chrono::seconds max_lockout{24 * 3600};
    std::size_t max_sources = 100000;  // memory bound: full buckets are forgotten first
};

class Throttle {
public:
    explicit Throttle(ThrottleConfig c = {}) : c_(c) {}
    const ThrottleConfig& config() const { return c_; }

    // How long `source` must wait before its next attempt is looked at (nullopt: go ahead).
    std::optional<std::chrono::seconds> source_wait(const std::string& source, TimePoint now);
    // A failed attempt from `source` on `key` ("" when no key could be identified). True when
    // this failure locked the key.
    bool failure(const std::string& source, const std::string& key, TimePoint now);
    // The key's lock end, if it is locked at `now`.
    std::optional<TimePoint> locked_until(const std::string& key, TimePoint now) const;
    // A correct key: its failure count starts over (its lockout history stays).
    void success(const std::string& key);
    // An admin's unlock: forgets the key's failures, lock and lockout history.
    void unlock(const std::string& key) { keys_.erase(key); }

    struct KeyState {
        int failures = 0;
        TimePoint window_start{};
        int lockouts = 0;
        std::optional<TimePoint> locked_until;
    };
    // For persistence (lockouts survive a restart when the caller stores these).
    const std::map<std::string, KeyState>& keys() const { return keys_; }
    void restore(const std::string& key, const KeyState& s) { keys_[key] = s; }

private:
    struct Bucket {
        double tokens = 0;
        TimePoint at{};
    };
    Bucket& refill(const std::string& source, TimePoint now);

    ThrottleConfig c_;
    std::map<std::string, Bucket> sources_;
    std::map<std::string, KeyState> keys_;
};

}  // namespace hs::admin
