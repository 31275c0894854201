// What one HTTP/2 stream of a Noise connection owes its client: whole messages in order, each
// in shared pieces (mapframe.h), so a map queued for many clients is held once. Bounded: a
// client that reads slower than updates come does not make the server hold every update for
// it; updates it has not begun to receive are dropped and replaced by one fresh full map,
// which supersedes them because a full map replaces the client's whole state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "common/control/mapframe.h"

namespace hs::control {

class SendQueue {
public:
    enum class Kind {
        Full,    // the whole state (a full map, or a reply that is the stream's only message)
        Update,  // a change on top of what came before (a delta)
    };
    // Bytes of messages not yet begun that an update may bring the queue to (not counting the
    // message in progress): a few seconds of updates at N=2,000 in a restart are ~100 KiB.
    static constexpr std::size_t kDefaultBound = 1 << 20;

    explicit SendQueue(std::size_t bound = kDefaultBound) : bound_(bound) {}

    // Appends a message. A Full one drops every message not yet begun first. An Update that
    // would take the bytes not yet begun past the bound is dropped with them instead, and the
    // queue turns stale: take_resync() then asks for a fresh full map once the message in
    // progress is out. Updates that arrive while stale are dropped too.
    void push(FrameParts msg, Kind kind);
    // Copies up to `len` bytes of the queue's front into `buf`; returns how many.
    std::size_t read(std::uint8_t* buf, std::size_t len);
    // True, once, when the queue is stale and empty: the owner must push a fresh full map.
    bool take_resync();

    std::size_t bytes() const { return bytes_; }  // queued, not yet read
    bool empty() const { return msgs_.empty(); }
    bool stale() const { return stale_; }
    std::uint64_t dropped() const { return dropped_; }  // messages dropped, all told

private:
    struct Msg {
        FrameParts parts;
        std::size_t size = 0;
    };
    // Drops the messages not yet begun; returns how many bytes were dropped.
    void drop_unbegun();
    std::size_t unbegun_bytes() const;

    std::deque<Msg> msgs_;
    std::size_t part_ = 0, off_ = 0;  // read position in msgs_.front()
    std::size_t front_read_ = 0;      // bytes of msgs_.front() already read
    std::size_t bytes_ = 0;
    std::size_t bound_;
    bool stale_ = false;
    std::uint64_t dropped_ = 0;
};

}  // namespace hs::control
