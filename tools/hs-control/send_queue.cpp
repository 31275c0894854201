#include "tools/hs-control/send_queue.h"

#include <algorithm>
#include <cstring>

namespace hs::control {

std::size_t SendQueue::unbegun_bytes() const {
    if (msgs_.empty()) return 0;
    return front_read_ > 0 ? bytes_ - (msgs_.front().size - front_read_) : bytes_;
}

void SendQueue::drop_unbegun() {
    const std::size_t keep = !msgs_.empty() && front_read_ > 0 ? 1 : 0;
    while (msgs_.size() > keep) {
        bytes_ -= msgs_.back().size;
        msgs_.pop_back();
        ++dropped_;
    }
    if (msgs_.empty()) part_ = off_ = front_read_ = 0;
}

void SendQueue::push(FrameParts msg, Kind kind) {
    const std::size_t size = parts_size(msg);
    if (kind == Kind::Full) {
        drop_unbegun();
        stale_ = false;
    } else if (stale_ || unbegun_bytes() + size > bound_) {
        drop_unbegun();
        ++dropped_;
        stale_ = true;
        return;
    }
    if (size == 0) return;
    bytes_ += size;
    msgs_.push_back({std::move(msg), size});
}

std::size_t SendQueue::read(std::uint8_t* buf, std::size_t len) {
    std::size_t copied = 0;
    while (copied < len && !msgs_.empty()) {
        auto& m = msgs_.front();
        const auto& piece = *m.parts[part_];
        const std::size_t take = std::min(len - copied, piece.size() - off_);
        std::memcpy(buf + copied, piece.data() + off_, take);
        copied += take;
        off_ += take;
        front_read_ += take;
        bytes_ -= take;
        if (off_ < piece.size()) continue;
        off_ = 0;
        if (++part_ < m.parts.size()) continue;
        msgs_.pop_front();
        part_ = front_read_ = 0;
    }
    return copied;
}

bool SendQueue::take_resync() {
    if (!stale_ || !msgs_.empty()) return false;
    stale_ = false;
    return true;
}

}  // namespace hs::control
