#include "common/base/duration.h"

#include <array>
#include <cstdint>
#include <limits>
#include <utility>

namespace hs {
namespace {

constexpr std::int64_t kSecond = 1000;
constexpr std::array<std::pair<std::string_view, std::int64_t>, 7> kUnits{{
    {"y", 365 * 24 * 3600 * kSecond},
    {"w", 7 * 24 * 3600 * kSecond},
    {"d", 24 * 3600 * kSecond},
    {"h", 3600 * kSecond},
    {"m", 60 * kSecond},
    {"s", kSecond},
    {"ms", 1},
}};

[[noreturn]] void fail(std::string_view text, std::string_view why) {
    throw DurationError("invalid duration \"" + std::string(text) + "\": " + std::string(why) +
                        " (expected e.g. 30s, 15m, 1h30m, 90d; units ms s m h d w y)");
}

}  // namespace

std::chrono::milliseconds parse_duration(std::string_view text) {
    if (text == "0") return std::chrono::milliseconds(0);
    if (text.empty()) fail(text, "empty");
    std::int64_t total = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        if (text[i] < '0' || text[i] > '9') fail(text, "expected a number");
        std::int64_t n = 0;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
            if (n > (std::numeric_limits<std::int64_t>::max() - 9) / 10) fail(text, "too large");
            n = n * 10 + (text[i] - '0');
            ++i;
        }
        std::size_t j = i;
        while (j < text.size() && text[j] >= 'a' && text[j] <= 'z') ++j;
        const auto unit = text.substr(i, j - i);
        if (unit.empty()) fail(text, "missing unit after number");
        std::int64_t scale = 0;
        for (const auto& [name, ms] : kUnits)
            if (name == unit) scale = ms;
        if (scale == 0) fail(text, "unknown unit \"" + std::string(unit) + "\"");
        if (n > std::numeric_limits<std::int64_t>::max() / scale - total / scale) fail(text, "too large");
        total += n * scale;
        i = j;
    }
    return std::chrono::milliseconds(total);
}

std::string format_duration(std::chrono::milliseconds d) {
    std::int64_t left = d.count();
    if (left == 0) return "0s";
    std::string out;
    if (left < 0) {
        out = "-";
        left = -left;
    }
    // Weeks and years only when exact, so "10d" stays "10d".
    for (const auto& [name, ms] : kUnits) {
        if ((name == "y" || name == "w") && left % ms != 0) continue;
        if (left >= ms) {
            out += std::to_string(left / ms) + std::string(name);
            left %= ms;
        }
    }
    return out;
}

}  // namespace hs
