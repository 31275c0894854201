#include "common/control/mapframe.h"

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

std::string zstd_frame(std::string_view text) {
    thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx(ZSTD_createCCtx());
    std::string out(ZSTD_compressBound(text.size()), '\0');
    const std::size_t n = ZSTD_compressCCtx(cctx.get(), out.data(), out.size(), text.data(), text.size(), 1);
    if (ZSTD_isError(n)) throw FrameError(std::string("zstd: ") + ZSTD_getErrorName(n));
    out.resize(n);
    return out;
}

FrameBuilder::FrameBuilder() : own_(4, '\0') {}

void FrameBuilder::flush() {
    if (pending_.empty()) return;
    const auto z = zstd_frame(pending_);
    own_ += z;
    size_ += z.size();
    pending_.clear();
}

void FrameBuilder::close_own() {
    if (own_.empty()) return;
    // Pieces live in send queues: keep only what zstd produced, not its worst-case bound.
    own_.shrink_to_fit();
    auto piece = std::make_shared<std::string>(std::move(own_));
    own_.clear();
    if (!first_) first_ = piece;
    parts_.push_back(std::move(piece));
}

void FrameBuilder::raw(std::string_view zstd) {
    flush();
    own_.append(zstd);
    size_ += zstd.size();
}

void FrameBuilder::shared(std::shared_ptr<const std::string> zstd) {
    flush();
    close_own();
    size_ += zstd->size();
    parts_.push_back(std::move(zstd));
}

FrameParts FrameBuilder::finish_parts() {
    flush();
    if (size_ == 0) raw(zstd_frame({}));  // an empty message is still one frame
    close_own();
    const auto n = static_cast<std::uint32_t>(size_);
    for (int i = 0; i < 4; ++i) (*first_)[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
    return std::move(parts_);
}

std::string FrameBuilder::finish() {
    const auto parts = finish_parts();
    if (parts.size() == 1) return std::move(*first_);  // not shared with anyone: no copy
    return join_parts(parts);
}

std::size_t parts_size(const FrameParts& parts) {
    std::size_t n = 0;
    for (const auto& p : parts) n += p->size();
    return n;
}

std::string join_parts(const FrameParts& parts) {
    std::string out;
    out.reserve(parts_size(parts));
    for (const auto& p : parts) out += *p;
    return out;
}

std::string frame_map_message(std::string_view json) {
    FrameBuilder b;
    b.raw(zstd_frame(json));  // no copy of the text into the builder first
    return b.finish();
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
    for (int i = 0; i < 4; ++i)
        n |= static_cast<std::uint32_t>(static_cast<unsigned char>(stream[static_cast<std::size_t>(i)])) << (8 * i);
    if (n > max_size) throw FrameError("frame of " + std::to_string(n) + " bytes exceeds the limit");
    if (stream.size() < 4 + static_cast<std::size_t>(n)) throw FrameError("truncated frame body");
    const auto body = stream.substr(4, n);
    stream.remove_prefix(4 + n);
    if (body.empty()) throw FrameError("not a zstd frame");
    std::string out;
    for (auto rest = body; !rest.empty();) {
        const std::size_t csize = ZSTD_findFrameCompressedSize(rest.data(), rest.size());
        if (ZSTD_isError(csize)) throw FrameError("not a zstd frame");
        const unsigned long long size = ZSTD_getFrameContentSize(rest.data(), csize);
        if (size == ZSTD_CONTENTSIZE_ERROR) throw FrameError("not a zstd frame");
        if (size == ZSTD_CONTENTSIZE_UNKNOWN || size > max_size - out.size())
            throw FrameError("zstd frame without a usable size");
        const auto at = out.size();
        out.resize(at + static_cast<std::size_t>(size));
        const std::size_t got = ZSTD_decompress(out.data() + at, static_cast<std::size_t>(size), rest.data(), csize);
        if (ZSTD_isError(got)) throw FrameError(std::string("zstd: ") + ZSTD_getErrorName(got));
        out.resize(at + got);
        rest.remove_prefix(csize);
    }
    return out;
}

}  // namespace hs
