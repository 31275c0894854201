// Times as the database and the wire carry them: RFC 3339 in UTC.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace hs {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

// "2026-11-23T12:00:00Z"; with `fraction`, up to 9 digits of fractional seconds (trailing zeros dropped).
std::string format_time(TimePoint t, bool fraction = false);
// Strict RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm). nullopt on anything else.
std::optional<TimePoint> parse_time(std::string_view text);

}  // namespace hs
