#include "common/base/timeutil.h"

#include <cstdio>

namespace hs {
namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    out = v;
    return true;
}

}  // namespace

std::string format_time(TimePoint t, bool fraction) {
    using namespace std::chrono;
    const auto days = floor<std::chrono::days>(t);
    const year_month_day ymd{days};
    const auto tod = t - days;
    const auto h = duration_cast<hours>(tod);
    const auto m = duration_cast<minutes>(tod - h);
    const auto s = duration_cast<seconds>(tod - h - m);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02lld", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), static_cast<int>(h.count()),
                  static_cast<int>(m.count()), static_cast<long long>(s.count()));
    std::string out = buf;
    if (fraction) {
        const auto ns = duration_cast<nanoseconds>(tod - h - m - s).count();
        if (ns > 0) {
            char f[32];
            std::snprintf(f, sizeof f, ".%09lld", static_cast<long long>(ns));
            std::string frac = f;
            while (frac.back() == '0') frac.pop_back();
            out += frac;
        }
    }
    return out + "Z";
}

std::optional<TimePoint> parse_time(std::string_view s) {
    using namespace std::chrono;
    int y, mo, d, h, mi, se;
    if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
        !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, h) || s[13] != ':' ||
        !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, se))
        return std::nullopt;
    const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return std::nullopt;
    std::size_t pos = 19;
    nanoseconds frac{0};
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        std::size_t n = 0;
        long long v = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (n < 9) v = v * 10 + (s[pos] - '0'), ++n;
            ++pos;
        }
        if (n == 0) return std::nullopt;
        for (std::size_t i = n; i < 9; ++i) v *= 10;
        frac = nanoseconds(v);
    }
    minutes offset{0};
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        int oh, om;
        if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(s, pos + 4, 2, om) ||
            oh > 23 || om > 59)
            return std::nullopt;
        offset = hours(oh) + minutes(om);
        if (s[pos] == '-') offset = -offset;
        pos += 6;
    } else {
        return std::nullopt;
    }
    if (pos != s.size()) return std::nullopt;
    // Seconds first: the clock counts nanoseconds and spans only about 1678-2262, while Go
    // writes its zero time as year 1. Out-of-range times clamp to the clock's ends.
    const auto secs = (sys_days(ymd) + hours(h) + minutes(mi) + seconds(se) - offset).time_since_epoch().count();
    constexpr long long kLimit = 9'000'000'000LL;  // ~ +/-285 years, inside the nanosecond range
    if (secs < -kLimit) return TimePoint::min();
    if (secs > kLimit) return TimePoint::max();
    return TimePoint(duration_cast<Clock::duration>(seconds(secs) + frac));
}

}  // namespace hs
