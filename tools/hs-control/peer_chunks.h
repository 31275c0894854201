// The Peers array of full maps, compressed in pieces that every node's map shares. When
// thousands of nodes reconnect at once (a restart), each needs a map of all the others; with
// the pieces, each map costs the compression of its own span of IDs and a copy of the rest,
// instead of compressing the whole tailnet once per node.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace hs::control {

// Appends one peer's JSON to a Peers array being written: the array's opening before the first
// peer (`opened` false), a comma before the others.
void append_peer(std::string& out, bool& opened, std::string_view peer_json);

class PeerChunks {
public:
    // Node IDs per piece. A node's own span is compressed for each of its maps (it is not its
    // own peer), so a span costs that much per map; more spans cost more frames per map.
    static constexpr std::int64_t kSpan = 128;
    static std::int64_t span_of(std::int64_t id) { return id / kSpan; }

    // Node `id`'s peer JSON changed, or the node came or went.
    void invalidate(std::int64_t id) { cache_.erase(span_of(id)); }
    void clear() { cache_.clear(); }

    // A zstd frame holding span `k`'s peers as written by append_peer: `opens` when the span is
    // the first in the array. `render` writes that text (starting with `opens`) on a miss. The
    // frame is shared: maps queued for sending keep it after an invalidate drops it from here.
    std::shared_ptr<const std::string> get(std::int64_t k, bool opens,
                                           const std::function<void(std::string&, bool opened)>& render);

private:
    struct Piece {
        std::shared_ptr<const std::string> opening, continuing;
    };
    std::unordered_map<std::int64_t, Piece> cache_;
};

}  // namespace hs::control
