// Framing of streamed map responses: uint32 little-endian length, then one complete zstd
// frame holding the JSON of one MapResponse. Each message is compressed on its own.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace hs {

struct FrameError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// LE32(len) + zstd(json). Compression at the fastest level: maps are re-sent often, CPU matters.
std::string frame_map_message(std::string_view json);
// Plain framing without compression, for clients that did not ask for zstd.
std::string frame_plain_message(std::string_view json);

// The inverse, for tests and tools: splits `stream` into messages and decompresses each. Throws
// FrameError on a truncated frame, an oversize length (> max_size) or bad zstd data.
std::string unframe_one(std::string_view& stream, std::size_t max_size = 64 << 20);

}  // namespace hs
