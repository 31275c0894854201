// Pacing for loops that meet a failure they cannot fix themselves (a listener out of file
// descriptors): how long to pause before the next try. LogLimiter (common/base/log.h) says how often
// to say so in the log.
#pragma once

#include <chrono>

namespace hs {

// Pauses that double from `first` up to `max`, starting over after reset(). The defaults
// (100 ms to 1 s) keep a listener that ran out of descriptors from spinning a core, and still
// let it take connections within a second of some being closed.
class Backoff {
public:
    using ms = std::chrono::milliseconds;
    explicit Backoff(ms first = ms(100), ms max = ms(1000)) : first_(first), max_(max) {}
    // The pause before the next try; each call doubles the one after it, up to max.
    ms next();
    void reset() { current_ = ms(0); }

private:
    ms first_, max_, current_{0};
};

}  // namespace hs
