#include <catch2/catch.hpp>

#include <sodium.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "common/base/keys.h"
#include "common/control/noise.h"

using namespace hs;

namespace {

using Buf = std::vector<std::uint8_t>;

// Hex with optional spaces, as the reference writes its vectors.
Buf unhex(std::string_view text) {
    std::string digits;
    for (char c : text)
        if (c != ' ') digits.push_back(c);
    REQUIRE(digits.size() % 2 == 0);
    Buf out;
    for (std::size_t i = 0; i < digits.size(); i += 2) {
        out.push_back(static_cast<std::uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
    }
    return out;
}

std::string hex(std::span<const std::uint8_t> b) {
    static constexpr char d[] = "0123456789abcdef";
    std::string s;
    for (auto x : b) {
        s.push_back(d[x >> 4]);
        s.push_back(d[x & 15]);
    }
    return s;
}

Key32 key(std::string_view h) { return from_hex(h, "test vector"); }

Buf bytes(std::string_view s) { return Buf(s.begin(), s.end()); }

std::string text(const Buf& b) { return std::string(b.begin(), b.end()); }

// §2.9 of the control protocol reference.
const PrivateKey kServerStatic{key("901dcc9360ea05800a0e76c414ba830e612661841ddce84c7e13c0f4aaa5e846")};
const PrivateKey kClientStatic{key("380b55150709d17fb4638a414f29e23c694ed3186119b5b3f5e1af320eef4853")};
const PrivateKey kClientEphemeral{key("98105b2f779418ff0ed1770cbb37213edbf11e5b4f2a02db6fb05d8596f35c7d")};
const PrivateKey kServerEphemeral{key("20d8cd779431405a837f31a4f140f127ebf4c0154f058c4840e55714a0ffde5a")};
constexpr std::string_view kInit =
    "006a010060 b470ad366b390120d4de0fb51689ba4be2f5afec4f3a069bb856f6afdec2d65c"
    "ba179893c0281b81ed1cb25afdb92f27af829977ab1b3af0aeb6466892a6e088c5e144dcd1ce6a66e3235facbc51aee0"
    "78b12cd8954f07eda53cd3700defaf3c";
constexpr std::string_view kResponse =
    "020030 748664a459a892040b0936b4eb5b7156a6de62924b545a160a0e28479d0e0907 df4e88347aeef994e1432b4b479c8359";
constexpr std::string_view kHandshakeHash = "d0391b109c8b21c569d67bd9e9a7ad2cb71e69ea538239743336b6c6cdcb39b5";
constexpr std::string_view kK1 = "ed73a4a8ae29547c40b7a2d362dd306f17d6c946e045e85b49bde9da605f2d13";
constexpr std::string_view kK2 = "b41547e4f98bb9214d2bdb51d407eb31f738180f21c13f03e318c7239cb7d0eb";
constexpr std::string_view kC2sHello = "040015ee1c8d850d1768010216e1851bf5637ea9ad941408";
constexpr std::string_view kC2sAgain = "0400157ab3b61633103749a3a83703f30426328f6ee241c2";
constexpr std::string_view kC2sAgainLittleEndian = "040015b57bd2bb6d9806f16df35862f4783f8c9fc2938eaf";
constexpr std::string_view kS2cWorld = "04001516538b6603640749feb742db772b4eacd40fd85463";

Buf vector_init() { return unhex(kInit); }

// Runs noise_accept on `init` and returns the error it must throw.
NoiseError accept_error(const Buf& init) {
    try {
        noise_accept(kServerStatic, init, &kServerEphemeral);
    } catch (const NoiseError& e) {
        return e;
    }
    FAIL("noise_accept accepted a bad initiation");
    return NoiseError("unreachable");
}

NoiseError feed_error(NoiseOpener& opener, const Buf& in) {
    Buf out;
    try {
        opener.feed(in, out);
    } catch (const NoiseError& e) {
        return e;
    }
    FAIL("NoiseOpener accepted bad input");
    return NoiseError("unreachable");
}

Buf random_bytes(std::size_t n) {
    Buf b(n);
    randombytes_buf(b.data(), b.size());
    return b;
}

Key32 random_key() {
    Key32 k{};
    randombytes_buf(k.data(), k.size());
    return k;
}

}  // namespace

TEST_CASE("noise: test vector keys derive the listed public keys") {
    CHECK(to_hex(kServerStatic.public_key().bytes) ==
          "97e9418eaf0b2d0b1a602177576dd91fe202b10afd538d6cc8d95042869e7d4f");
    CHECK(to_hex(kClientStatic.public_key().bytes) ==
          "18f3347e61d58ac13619b34a5644bce3bbe729d0b2a113f9f4bb817ad5548612");
    CHECK(to_hex(kClientEphemeral.public_key().bytes) ==
          "b470ad366b390120d4de0fb51689ba4be2f5afec4f3a069bb856f6afdec2d65c");
    CHECK(to_hex(kServerEphemeral.public_key().bytes) ==
          "748664a459a892040b0936b4eb5b7156a6de62924b545a160a0e28479d0e0907");
}

TEST_CASE("noise: handshake matches the test vector on both sides") {
    const auto init = noise_initiate(kClientStatic, kServerStatic.public_key(), 106, &kClientEphemeral);
    CHECK(hex(init.message) == hex(vector_init()));

    const auto acc = noise_accept(kServerStatic, vector_init(), &kServerEphemeral);
    CHECK(acc.version == 106);
    CHECK(acc.peer_static == kClientStatic.public_key().bytes);
    CHECK(hex(acc.response) == hex(unhex(kResponse)));
    CHECK(to_hex(acc.handshake_hash) == kHandshakeHash);
    CHECK(to_hex(acc.rx_key) == kK1);
    CHECK(to_hex(acc.tx_key) == kK2);

    const auto keys = noise_finish(init, acc.response);
    CHECK(to_hex(keys.tx_key) == kK1);
    CHECK(to_hex(keys.rx_key) == kK2);
    CHECK(to_hex(keys.handshake_hash) == kHandshakeHash);
}

TEST_CASE("noise: transport records match the test vector (big-endian nonce)") {
    NoiseSealer c2s(key(kK1));
    Buf wire;
    c2s.seal(bytes("hello"), wire);
    CHECK(hex(wire) == kC2sHello);
    wire.clear();
    c2s.seal(bytes("again"), wire);
    CHECK(hex(wire) == kC2sAgain);

    NoiseSealer s2c(key(kK2));
    wire.clear();
    s2c.seal(bytes("world"), wire);
    CHECK(hex(wire) == kS2cWorld);

    NoiseOpener server_rx(key(kK1));
    Buf plain;
    server_rx.feed(unhex(std::string(kC2sHello) + std::string(kC2sAgain)), plain);
    CHECK(text(plain) == "helloagain");

    NoiseOpener client_rx(key(kK2));
    plain.clear();
    client_rx.feed(unhex(kS2cWorld), plain);
    CHECK(text(plain) == "world");
}

TEST_CASE("noise: the n=1 record sealed with a little-endian nonce is rejected") {
    // Confirm the vector's "wrong" record really is the little-endian encryption, so the
    // rejection below is about the nonce and nothing else.
    const Key32 k1 = key(kK1);
    std::uint8_t le_nonce[12] = {0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    std::uint8_t ct[5 + 16];
    unsigned long long len = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(ct, &len, reinterpret_cast<const unsigned char*>("again"), 5, nullptr, 0,
                                              nullptr, le_nonce, k1.data());
    CHECK("040015" + hex(ct) == kC2sAgainLittleEndian);

    NoiseOpener rx(k1);
    Buf plain;
    rx.feed(unhex(kC2sHello), plain);
    CHECK(text(plain) == "hello");
    feed_error(rx, unhex(kC2sAgainLittleEndian));
    CHECK(rx.failed());
    CHECK(text(plain) == "hello");
}

TEST_CASE("noise: round trip between initiator and responder with random keys") {
    for (int i = 0; i < 16; ++i) {
        const auto server = PrivateKey::generate();
        const auto machine = PrivateKey::generate();
        const auto version = static_cast<std::uint16_t>(1 + i * 4099);
        const auto init = noise_initiate(machine, server.public_key(), version);
        const auto acc = noise_accept(server, init.message);
        REQUIRE(acc.version == version);
        REQUIRE(acc.peer_static == machine.public_key().bytes);
        const auto keys = noise_finish(init, acc.response);
        REQUIRE(keys.tx_key == acc.rx_key);
        REQUIRE(keys.rx_key == acc.tx_key);
        REQUIRE(keys.handshake_hash == acc.handshake_hash);
        REQUIRE(keys.tx_key != keys.rx_key);

        NoiseSealer client_tx(keys.tx_key), server_tx(acc.tx_key);
        NoiseOpener client_rx(keys.rx_key), server_rx(acc.rx_key);
        const Buf up = random_bytes(100 + 1000 * static_cast<std::size_t>(i));
        const Buf down = random_bytes(7 + 313 * static_cast<std::size_t>(i));
        Buf wire, got;
        client_tx.seal(up, wire);
        server_rx.feed(wire, got);
        CHECK(got == up);
        wire.clear();
        got.clear();
        server_tx.seal(down, wire);
        client_rx.feed(wire, got);
        CHECK(got == down);
    }
}

TEST_CASE("noise: every accept uses a fresh server ephemeral") {
    const auto a = noise_accept(kServerStatic, vector_init());
    const auto b = noise_accept(kServerStatic, vector_init());
    CHECK(a.response != b.response);
    CHECK(a.tx_key != b.tx_key);
    CHECK(a.peer_static == b.peer_static);
}

TEST_CASE("noise: malformed initiation headers get an error frame") {
    Buf init = vector_init();
    SECTION("too short") {
        init.pop_back();
        const auto e = accept_error(init);
        CHECK(e.error_frame);
        CHECK(std::string(e.what()) == "wrong handshake initiation size");
    }
    SECTION("too long") {
        init.push_back(0);
        const auto e = accept_error(init);
        CHECK(e.error_frame);
        CHECK(std::string(e.what()) == "wrong handshake initiation size");
    }
    SECTION("empty") { CHECK(accept_error({}).error_frame); }
    SECTION("wrong type") {
        init[2] = 0x02;
        const auto e = accept_error(init);
        CHECK(e.error_frame);
        CHECK(std::string(e.what()) == "unexpected handshake message type");
    }
    SECTION("wrong length field") {
        init[4] = 0x61;
        const auto e = accept_error(init);
        CHECK(e.error_frame);
        CHECK(std::string(e.what()) == "wrong handshake initiation length");
    }
}

TEST_CASE("noise: cryptographic failures close without an error frame") {
    Buf init = vector_init();
    SECTION("corrupted machine key ciphertext") { init[40] ^= 0x01; }
    SECTION("corrupted machine key tag") { init[84] ^= 0x80; }
    SECTION("corrupted payload tag") { init[100] ^= 0x01; }
    SECTION("corrupted client ephemeral") { init[10] ^= 0x01; }
    SECTION("version differs from the one in the prologue") { init[1] = 0x6b; }
    SECTION("all-zero (low-order) client ephemeral") {
        std::fill(init.begin() + 5, init.begin() + 37, 0);
        CHECK_THAT(accept_error(init).what(), Catch::Contains("low-order"));
    }
    SECTION("low-order client ephemeral of order 8") {
        const Buf point = unhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");
        std::copy(point.begin(), point.end(), init.begin() + 5);
    }
    const auto e = accept_error(init);
    CHECK_FALSE(e.error_frame);
}

TEST_CASE("noise: initiation for another server key is rejected") {
    const auto other = PrivateKey::generate();
    try {
        noise_accept(other, vector_init());
        FAIL("accepted");
    } catch (const NoiseError& e) {
        CHECK_FALSE(e.error_frame);
    }
}

TEST_CASE("noise: error frame layout") {
    CHECK(hex(noise_error_frame("wrong handshake initiation size")) ==
          "03001f" + hex(bytes("wrong handshake initiation size")));
    CHECK(hex(noise_error_frame("")) == "030000");
    const auto big = noise_error_frame(std::string(70000, 'x'));
    CHECK(big.size() == 3 + 0xffff);
    CHECK(hex(Buf(big.begin(), big.begin() + 3)) == "03ffff");
}

TEST_CASE("noise: the initiator rejects bad responses and reports error frames") {
    const auto init = noise_initiate(kClientStatic, kServerStatic.public_key(), 106, &kClientEphemeral);
    Buf response = unhex(kResponse);
    SECTION("tampered tag") {
        response[50] ^= 1;
        CHECK_THROWS_AS(noise_finish(init, response), NoiseError);
    }
    SECTION("tampered ephemeral") {
        response[3] ^= 1;
        CHECK_THROWS_AS(noise_finish(init, response), NoiseError);
    }
    SECTION("wrong type") {
        response[0] = 0x04;
        CHECK_THROWS_WITH(noise_finish(init, response), "unexpected handshake response type");
    }
    SECTION("short") {
        response.pop_back();
        CHECK_THROWS_WITH(noise_finish(init, response), "wrong handshake response size");
    }
    SECTION("server error frame") {
        CHECK_THROWS_WITH(noise_finish(init, noise_error_frame("wrong handshake initiation length")),
                          "server error: \"wrong handshake initiation length\"");
    }
}

TEST_CASE("noise: transport rejects bad record headers as soon as they arrive") {
    NoiseOpener rx(key(kK1));
    SECTION("length field one above the limit") {
        CHECK_THAT(feed_error(rx, unhex("040ffe")).what(), Catch::Contains("too large"));
    }
    SECTION("huge length field") { CHECK_THAT(feed_error(rx, unhex("04ffff")).what(), Catch::Contains("too large")); }
    SECTION("length field shorter than a tag") {
        CHECK_THAT(feed_error(rx, unhex("04000f")).what(), Catch::Contains("too short"));
    }
    SECTION("wrong record type") { CHECK_THAT(feed_error(rx, unhex("050015")).what(), Catch::Contains("type 0x05")); }
    SECTION("error frame after the handshake") { feed_error(rx, noise_error_frame("boom")); }
    SECTION("header split across feeds") {
        Buf out;
        rx.feed(unhex("04"), out);
        rx.feed(unhex("0f"), out);
        feed_error(rx, unhex("fe"));
    }
    CHECK(rx.failed());
    CHECK(rx.buffered() == 0);
}

TEST_CASE("noise: a maximum-length header is accepted and buffered") {
    NoiseOpener rx(key(kK1));
    Buf out;
    rx.feed(unhex("040ffd00"), out);
    CHECK_FALSE(rx.failed());
    CHECK(rx.buffered() == 4);
}

TEST_CASE("noise: a tampered record kills the stream") {
    NoiseOpener rx(key(kK1));
    Buf wire = unhex(kC2sHello);
    wire[5] ^= 0x20;
    feed_error(rx, wire);
    CHECK(rx.failed());
    // Even the genuine record is refused now.
    CHECK_THAT(feed_error(rx, unhex(kC2sHello)).what(), Catch::Contains("unusable"));
    Buf out;
    CHECK_THROWS_AS(rx.feed({}, out), NoiseError);
}

TEST_CASE("noise: plaintext of records before a bad one is delivered") {
    NoiseOpener rx(key(kK1));
    Buf wire = unhex(std::string(kC2sHello) + std::string(kC2sAgain));
    wire.back() ^= 1;
    Buf out;
    CHECK_THROWS_AS(rx.feed(wire, out), NoiseError);
    CHECK(text(out) == "hello");
}

TEST_CASE("noise: zero-length records are skipped") {
    const Key32 k = random_key();
    NoiseCipher tx(k);
    Buf wire{kNoiseTypeRecord, 0x00, 0x10};
    tx.seal({}, wire);
    REQUIRE(wire.size() == 19);
    NoiseSealer sealer(k);
    Buf rest;
    sealer.seal({}, rest);
    CHECK(rest.empty());  // sealing nothing writes nothing and uses no nonce
    wire.push_back(kNoiseTypeRecord);
    wire.push_back(0x00);
    wire.push_back(0x11);
    tx.seal(bytes("x"), wire);

    NoiseOpener rx(k);
    Buf out;
    rx.feed(Buf(wire.begin(), wire.begin() + 19), out);
    CHECK(out.empty());
    rx.feed(Buf(wire.begin() + 19, wire.end()), out);
    CHECK(text(out) == "x");
}

TEST_CASE("noise: records split at every byte boundary decode the same") {
    const Key32 k = random_key();
    NoiseSealer tx(k);
    Buf plain = bytes("hello");
    Buf wire;
    tx.seal(plain, wire);
    const Buf big = random_bytes(5000);  // two records
    tx.seal(big, wire);
    plain.insert(plain.end(), big.begin(), big.end());
    tx.seal(bytes("!"), wire);
    plain.push_back('!');

    SECTION("all in one feed") {
        NoiseOpener rx(k);
        Buf out;
        rx.feed(wire, out);
        CHECK(out == plain);
        CHECK(rx.buffered() == 0);
    }
    SECTION("two feeds, split anywhere") {
        for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
            NoiseOpener rx(k);
            Buf out;
            rx.feed(std::span(wire).first(cut), out);
            rx.feed(std::span(wire).subspan(cut), out);
            REQUIRE(out == plain);
            REQUIRE(rx.buffered() == 0);
        }
    }
    SECTION("one byte at a time, never holding more than one record") {
        NoiseOpener rx(k);
        Buf out;
        for (std::size_t i = 0; i < wire.size(); ++i) {
            rx.feed(std::span(wire).subspan(i, 1), out);
            REQUIRE(rx.buffered() < kNoiseMaxRecord);
        }
        CHECK(out == plain);
        CHECK(rx.buffered() == 0);
    }
    SECTION("ragged feeds") {
        NoiseOpener rx(k);
        Buf out;
        std::size_t at = 0, step = 1;
        while (at < wire.size()) {
            const std::size_t n = std::min(step, wire.size() - at);
            rx.feed(std::span(wire).subspan(at, n), out);
            at += n;
            step = step * 7 % 6151 + 1;
        }
        CHECK(out == plain);
    }
}

TEST_CASE("noise: large plaintext is split into records of at most 4096 bytes") {
    const Key32 k = random_key();
    const Buf plain = random_bytes(20000);
    NoiseSealer tx(k);
    Buf wire;
    tx.seal(plain, wire);

    std::size_t at = 0, records = 0, carried = 0;
    while (at < wire.size()) {
        REQUIRE(wire.size() - at >= 3);
        CHECK(wire[at] == kNoiseTypeRecord);
        const std::size_t len = static_cast<std::size_t>(wire[at + 1] << 8 | wire[at + 2]);
        CHECK(3 + len <= kNoiseMaxRecord);
        CHECK(len >= 16);
        carried += len - 16;
        at += 3 + len;
        ++records;
    }
    CHECK(at == wire.size());
    CHECK(records == 5);  // ceil(20000 / 4077)
    CHECK(carried == plain.size());

    NoiseOpener rx(k);
    Buf out;
    rx.feed(wire, out);
    CHECK(out == plain);
}

TEST_CASE("noise: the cipher uses big-endian counters and refuses 2^64-1") {
    const Key32 k = random_key();
    const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    NoiseCipher tx(k, 0x0102030405060708ULL);
    Buf ct;
    tx.seal(bytes("abc"), ct);
    CHECK(tx.counter() == 0x0102030405060709ULL);
    const std::uint8_t nonce[12] = {0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
    std::uint8_t pt[3];
    unsigned long long len = 0;
    CHECK(crypto_aead_chacha20poly1305_ietf_decrypt(pt, &len, nullptr, ct.data(), ct.size(), nullptr, 0, nonce,
                                                    k.data()) == 0);
    CHECK(std::string(pt, pt + 3) == "abc");

    NoiseCipher last(k, max - 1);
    Buf out;
    last.seal(bytes("y"), out);
    CHECK_THROWS_WITH(last.seal(bytes("z"), out), "cipher exhausted");

    NoiseCipher rx(k, max - 1);
    Buf plain;
    rx.open(out, plain);
    CHECK(text(plain) == "y");
    CHECK_THROWS_WITH(rx.open(out, plain), "cipher exhausted");
}

TEST_CASE("noise: a failed open leaves the output alone and kills the cipher") {
    const Key32 k = random_key();
    NoiseCipher tx(k);
    Buf ct;
    tx.seal(bytes("secret"), ct);
    ct[0] ^= 1;
    NoiseCipher rx(k);
    Buf out = bytes("kept");
    CHECK_THROWS_AS(rx.open(ct, out), NoiseError);
    CHECK(text(out) == "kept");
    ct[0] ^= 1;
    CHECK_THROWS_AS(rx.open(ct, out), NoiseError);
}

TEST_CASE("noise: a moved-from cipher cannot be used") {
    NoiseCipher a(random_key());
    NoiseCipher b(std::move(a));
    Buf out;
    b.seal(bytes("ok"), out);
    CHECK_THROWS_AS(a.seal(bytes("no"), out), NoiseError);  // NOLINT(bugprone-use-after-move)
}

TEST_CASE("noise: early payload layout") {
    CHECK(hex(noise_early_payload("{}")) == "ffffff5453000000027b7d");
    const std::string json = R"({"nodeKeyChallenge":"chalpub:)" + std::string(64, 'a') + "\"}";
    const auto p = noise_early_payload(json);
    CHECK(hex(Buf(p.begin(), p.begin() + 9)) == "ffffff54530000005f");
    CHECK(std::string(p.begin() + 9, p.end()) == json);
}

TEST_CASE("noise: sealing in pieces writes what sealing the whole writes") {
    const Key32 k = random_key();
    const Buf plain = random_bytes(20000);
    // Cuts like nghttp2's: 9-byte frame headers, bodies up to 16 KiB, a record boundary exact.
    for (const std::vector<std::size_t>& cuts :
         {std::vector<std::size_t>{9, 16384, 9, 3598}, {4077, 4077, 11846}, {1, 4076, 1, 15922}, {20000}}) {
        NoiseSealer whole(k), pieces(k);
        Buf a, b;
        whole.seal(plain, a);
        std::size_t at = 0;
        for (const auto n : cuts) {
            pieces.append({plain.data() + at, n}, b);
            at += n;
            // Only whole records go out before the flush.
            CHECK(b.size() % kNoiseMaxRecord == 0);
        }
        REQUIRE(at == plain.size());
        pieces.flush(b);
        CHECK(a == b);
        pieces.flush(b);  // nothing pending: nothing written
        CHECK(a == b);
    }
}
