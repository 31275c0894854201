// Durations as users write them in config files and on the command line.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>

namespace hs {

struct DurationError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// Accepts "0" and one or more <integer><unit> groups, e.g. "90s", "1h30m", "180d", "1y"
// (units ms, s, m, h, d, w, y as Prometheus and headscale spell them; d = 24h, w = 7d, y = 365d).
// Throws DurationError with a message that shows the accepted form.
std::chrono::milliseconds parse_duration(std::string_view text);

// The shortest text parse_duration reads back to the same value ("1h30m", "0s").
std::string format_duration(std::chrono::milliseconds d);

}  // namespace hs
