#include "common/mapframe.h"

#include <zstd.h>

#include <cstdint>
#include <memory>

namespace hs {
namespace {

void put_le32(std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

struct CCtxDeleter {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};

}  // namespace

std::string frame_map_message(std::string_view json) {
    thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx(ZSTD_createCCtx());
    std::string out(4 + ZSTD_compressBound(json.size()), '\0');
    const std::size_t n = ZSTD_compressCCtx(cctx.get(), out.data() + 4, out.size() - 4, json.data(), json.size(), 1);
    if (ZSTD_isError(n)) throw FrameError(std::string("zstd: ") + ZSTD_getErrorName(n));
    out.resize(4 + n);
    // Frames live in send queues shared by many streams: keep only what zstd produced, not the
    // worst-case bound (several times larger for a big map).
    out.shrink_to_fit();
    std::string len;
    put_le32(len, static_cast<std::uint32_t>(n));
    out.replace(0, 4, len);
    return out;
}

std::string frame_plain_message(std::string_view json) {
    std::string out;
    out.reserve(4 + json.size());
    put_le32(out, static_cast<std::uint32_t>(json.size()));
    out.append(json);
    return out;
}

std::string unframe_one(std::string_view& stream, std::size_t max_size) {
    if (stream.size() < 4) throw FrameError("truncated frame header");
    std::uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(stream[static_cast<std::size_t>(i)])) << (8 * i);
    if (n > max_size) throw FrameError("frame of " + std::to_string(n) + " bytes exceeds the limit");
    if (stream.size() < 4 + static_cast<std::size_t>(n)) throw FrameError("truncated frame body");
    const auto body = stream.substr(4, n);
    stream.remove_prefix(4 + n);
    const unsigned long long size = ZSTD_getFrameContentSize(body.data(), body.size());
    if (size == ZSTD_CONTENTSIZE_ERROR) throw FrameError("not a zstd frame");
    if (size == ZSTD_CONTENTSIZE_UNKNOWN || size > max_size) throw FrameError("zstd frame without a usable size");
    std::string out(static_cast<std::size_t>(size), '\0');
    const std::size_t got = ZSTD_decompress(out.data(), out.size(), body.data(), body.size());
    if (ZSTD_isError(got)) throw FrameError(std::string("zstd: ") + ZSTD_getErrorName(got));
    out.resize(got);
    return out;
}

}  // namespace hs
