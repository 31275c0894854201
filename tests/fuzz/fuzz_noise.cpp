// The Noise layer on hostile bytes: the first 101 bytes (or fewer) go to noise_accept under the
// test-vector server key, so the seed initiation gets through and the rest of the input reaches
// a NoiseOpener holding the real session key. The whole input also goes to an opener with a
// fixed key, cut at a point chosen by the input, and through a sealer/opener round trip.
// Any exception other than NoiseError crashes the run, and the round trip must return its input.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/base/keys.h"
#include "common/control/noise.h"

namespace {

const hs::PrivateKey& server_static() {
    static const hs::PrivateKey k{
        hs::from_hex("901dcc9360ea05800a0e76c414ba830e612661841ddce84c7e13c0f4aaa5e846", "server static")};
    return k;
}

// A fixed ephemeral keeps runs reproducible.
const hs::PrivateKey& server_ephemeral() {
    static const hs::PrivateKey k{
        hs::from_hex("20d8cd779431405a837f31a4f140f127ebf4c0154f058c4840e55714a0ffde5a", "server ephemeral")};
    return k;
}

void feed_in_two(const hs::Key32& key, std::span<const std::uint8_t> in, std::size_t cut) {
    hs::NoiseOpener rx(key);
    std::vector<std::uint8_t> out;
    cut = std::min(cut, in.size());
    try {
        rx.feed(in.first(cut), out);
        rx.feed(in.subspan(cut), out);
    } catch (const hs::NoiseError&) {
        if (!rx.failed()) __builtin_trap();
    }
    if (rx.buffered() > hs::kNoiseMaxRecord) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> in(data, size);

    const auto head = in.first(std::min(size, hs::kNoiseInitSize));
    try {
        const auto acc = hs::noise_accept(server_static(), head, &server_ephemeral());
        feed_in_two(acc.rx_key, in.subspan(head.size()), size / 2);
    } catch (const hs::NoiseError& e) {
        if (e.error_frame && hs::noise_error_frame(e.what()).size() != 3 + std::string_view(e.what()).size()) {
            __builtin_trap();
        }
    }

    hs::Key32 fixed{};
    fixed.fill(0x42);
    feed_in_two(fixed, in, size > 0 ? data[0] * 17u : 0);

    hs::NoiseSealer tx(fixed);
    std::vector<std::uint8_t> wire, back;
    tx.seal(in, wire);
    hs::NoiseOpener rx(fixed);
    rx.feed(wire, back);
    if (back.size() != size || !std::equal(back.begin(), back.end(), in.begin())) __builtin_trap();
    return 0;
}
