// Pacing for loops that meet a failure they cannot fix themselves (a listener out of file
// descriptors): how long to pause before the next try, and how often to say so in the log.
#pragma once

#include <chrono>
#include <cstdint>

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

// One log line per `interval` for a recurring event, carrying how often it happened: a
// failure that repeats thousands of times a second must not fill the disk (issue 19 saw 16.7
// million "accept" lines in 57 s).
class LogLimiter {
public:
    using clock = std::chrono::steady_clock;
    explicit LogLimiter(clock::duration interval) : interval_(interval) {}
    // Records one event at `now`. Returns 0 when no line is due; otherwise the number of events
    // the line should report (this one and those held back since the last line).
    std::uint64_t note(clock::time_point now);

private:
    clock::duration interval_;
    clock::time_point last_line_{};
    bool logged_ = false;
    std::uint64_t held_ = 0;
};

}  // namespace hs
