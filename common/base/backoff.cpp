#include "common/base/backoff.h"

#include <algorithm>

namespace hs {

Backoff::ms Backoff::next() {
    current_ = current_.count() == 0 ? first_ : std::min(max_, current_ * 2);
    return current_;
}

}  // namespace hs
