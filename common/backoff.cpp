#include "common/backoff.h"

#include <algorithm>

namespace hs {

Backoff::ms Backoff::next() {
    current_ = current_.count() == 0 ? first_ : std::min(max_, current_ * 2);
    return current_;
}

std::uint64_t LogLimiter::note(clock::time_point now) {
    ++held_;
    if (logged_ && now - last_line_ < interval_) return 0;
    logged_ = true;
    last_line_ = now;
    const auto n = held_;
    held_ = 0;
    return n;
}

}  // namespace hs
