// Logging for every binary: spdlog to stderr, human text or one JSON object per line.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace hs {

// Configures the default spdlog logger to write to stderr.
// level: trace, debug, info, warn, error, off (headscale's "warning", "fatal" and "panic" are
// accepted too). format: "text" or "json". Throws std::invalid_argument naming the valid values.
// In both formats control bytes in a message are written escaped (see escape_control), so text
// a client chose (a hostname, a path) cannot start a line of its own or drive a terminal.
void setup_logging(const std::string& level, const std::string& format);

// `text` with every byte below 0x20 and 0x7f spelled out: \n, \r, \t, else \xHH. Other bytes
// are kept (UTF-8 names stay readable).
std::string escape_control(std::string_view text);

// Keeps a flood of the same event (wrong keys, say) from filling the disk: at most one line per
// `interval` for each reason. `reason` must come from a fixed set chosen by the caller, never
// from a client, since every distinct reason keeps a slot for the life of the process.
class LogLimiter {
public:
    using Clock = std::chrono::steady_clock;
    explicit LogLimiter(Clock::duration interval = std::chrono::seconds(1)) : interval_(interval) {}
    // nullopt: do not log this one. Otherwise log it; the value counts the events of this reason
    // that were not logged since the last line.
    std::optional<std::uint64_t> allow(std::string_view reason, Clock::time_point now = Clock::now());

private:
    struct Slot {
        Clock::time_point last;
        std::uint64_t suppressed = 0;
    };
    Clock::duration interval_;
    std::mutex mu_;
    std::map<std::string, Slot, std::less<>> slots_;
};

// " (N similar lines suppressed)" for N > 0, else "": the tail of a line LogLimiter allowed.
std::string suppressed_note(std::uint64_t n);

}  // namespace hs
