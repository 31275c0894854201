// Streamed map framing on hostile bytes: unframe_one reads message after message until the input
// runs out, and may only throw hs::FrameError; each message it returns stays under the limit and
// consumed exactly its frame. Then the input as a message: frame_map_message must give it back
// through unframe_one, also as two messages (the input cut where its first byte says) sent back
// to back; a frame cut short must be refused, and so must a limit one byte under the message.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/control/mapframe.h"

namespace {

void check(bool ok) {
    if (!ok) __builtin_trap();
}

std::uint32_t le32(std::string_view s) {
    std::uint32_t n = 0;
    for (std::size_t i = 0; i < 4; ++i) n |= std::uint32_t{static_cast<unsigned char>(s[i])} << (8 * i);
    return n;
}

// Each message may decompress to this much; a real client allows more, but a zstd header that
// claims 64 MiB would make every run allocate it.
constexpr std::size_t kLimit = 1 << 20;

bool refused(std::string_view stream, std::size_t max_size) {
    try {
        (void)hs::unframe_one(stream, max_size);
    } catch (const hs::FrameError&) {
        return true;
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);

    std::string_view stream = in;
    for (int i = 0; i < 64 && !stream.empty(); ++i) {
        const std::string_view before = stream;
        try {
            const auto msg = hs::unframe_one(stream, kLimit);
            const std::size_t n = le32(before);
            check(msg.size() <= kLimit && n <= kLimit && before.size() >= 4 + n);
            check(stream.data() == before.data() + 4 + n && stream.size() == before.size() - 4 - n);
        } catch (const hs::FrameError&) {
            break;
        }
    }

    const std::string framed = hs::frame_map_message(in);
    check(framed.size() >= 4 && le32(framed) == framed.size() - 4);
    std::string_view view = framed;
    check(hs::unframe_one(view) == in && view.empty());
    view = framed;
    // The limit covers both the frame and the message; exactly enough of it must do.
    check(hs::unframe_one(view, std::max(size, framed.size() - 4)) == in && view.empty());
    if (size > 0) check(refused(framed, size - 1));
    check(refused(std::string_view(framed).substr(0, size > 0 ? data[0] % framed.size() : 0), kLimit));

    const std::size_t cut = size > 0 ? data[0] * size / 255 : 0;
    const std::string two = hs::frame_map_message(in.substr(0, cut)) + hs::frame_map_message(in.substr(cut));
    view = two;
    check(hs::unframe_one(view) == in.substr(0, cut));
    check(hs::unframe_one(view) == in.substr(cut) && view.empty());

    const std::string plain = hs::frame_plain_message(in);
    check(plain.size() == 4 + size && le32(plain) == size && std::string_view(plain).substr(4) == in);
    return 0;
}
