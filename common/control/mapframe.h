// Framing of streamed map responses: uint32 little-endian length, then zstd data holding the
// JSON of one MapResponse. The zstd data may be several concatenated frames (the client decodes
// them as one stream), which lets a full map reuse pieces compressed once for many nodes.
#pragma once

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hs {

struct FrameError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// LE32(len) + zstd(json). Compression at the fastest level: maps are re-sent often, CPU matters.
std::string frame_map_message(std::string_view json);
// The zstd frame of `text` alone, no length prefix: a piece for FrameBuilder::raw.
std::string zstd_frame(std::string_view text);

// One framed message in pieces, in order: its bytes are the pieces' concatenation. Pieces
// compressed once for many recipients are shared by their messages instead of copied into each
// (a restart of 2,000 nodes queued 2,000 copies of the same peers).
using FrameParts = std::vector<std::shared_ptr<const std::string>>;
std::size_t parts_size(const FrameParts& parts);
std::string join_parts(const FrameParts& parts);

// Assembles one framed message from text to compress and already compressed frames, in order.
// The message decodes to the concatenation of every text() and the content of every raw() and
// shared().
class FrameBuilder {
public:
    FrameBuilder();
    void text(std::string_view s) { pending_.append(s); }
    // A complete zstd frame (from zstd_frame), copied as it is.
    void raw(std::string_view zstd);
    // A complete zstd frame, kept as a piece of the message (finish_parts) rather than copied.
    void shared(std::shared_ptr<const std::string> zstd);
    // The framed message (LE32 length + frames); the builder is spent afterwards.
    std::string finish();
    // The same message in pieces: the first holds the length, shared() frames are pieces of
    // their own. The builder is spent afterwards.
    FrameParts finish_parts();

private:
    void flush();
    void close_own();
    FrameParts parts_;
    std::shared_ptr<std::string> first_;  // the piece that starts with the length
    std::string own_;                     // compressed bytes since the last shared piece
    std::string pending_;
    std::size_t size_ = 0;  // bytes after the length, in parts_ and own_
};

// Plain framing without compression, for clients that did not ask for zstd.
std::string frame_plain_message(std::string_view json);

// The inverse, for tests and tools: splits `stream` into messages and decompresses each (all the
// zstd frames of a message, joined). Throws FrameError on a truncated frame, an oversize length
// (> max_size, for the message and for its decompressed text) or bad zstd data.
std::string unframe_one(std::string_view& stream, std::size_t max_size = 64 << 20);

}  // namespace hs
