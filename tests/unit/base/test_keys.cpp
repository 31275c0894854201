#include <catch2/catch.hpp>

#include "common/base/keys.h"

using namespace hs;

namespace {
Key32 hex(const char* s) { return from_hex(s, "test vector"); }
}  // namespace

TEST_CASE("X25519 matches RFC 7748 section 5.2 vectors") {
    CHECK(to_hex(x25519(hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
                        hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"))) ==
          "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
    CHECK(to_hex(x25519(hex("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
                        hex("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"))) ==
          "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
}

TEST_CASE("X25519 iterated vectors (RFC 7748 section 5.2)") {
    Key32 k{}, u{};
    k[0] = 9;
    u[0] = 9;
    for (int i = 1; i <= 1000; ++i) {
        const Key32 out = x25519(k, u);
        u = k;
        k = out;
        if (i == 1) CHECK(to_hex(k) == "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
    }
    CHECK(to_hex(k) == "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
}

TEST_CASE("X25519 Diffie-Hellman (RFC 7748 section 6.1)") {
    const PrivateKey alice{hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")};
    const PrivateKey bob{hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")};
    CHECK(to_hex(alice.public_key().bytes) == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    CHECK(to_hex(bob.public_key().bytes) == "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    const auto shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
    CHECK(to_hex(x25519(alice.bytes, bob.public_key().bytes)) == shared);
    CHECK(to_hex(x25519(bob.bytes, alice.public_key().bytes)) == shared);
}

TEST_CASE("X25519 refuses a low-order point") {
    const auto k = PrivateKey::generate();
    Key32 zero{};
    CHECK_THROWS_AS(x25519(k.bytes, zero), KeyError);
}

TEST_CASE("generated keys are clamped and distinct") {
    const auto a = PrivateKey::generate();
    const auto b = PrivateKey::generate();
    CHECK(a.bytes != b.bytes);
    CHECK((a.bytes[0] & 7) == 0);
    CHECK((a.bytes[31] & 128) == 0);
    CHECK((a.bytes[31] & 64) == 64);
}

TEST_CASE("key text round trips for every prefix") {
    const auto k = PrivateKey::generate();
    for (auto prefix : {kPrivatePrefix, kNodePrefix, kMachinePrefix, kDiscoPrefix}) {
        const auto text = key_text(prefix, k.bytes);
        CHECK(text.size() == prefix.size() + 64);
        CHECK(text.substr(0, prefix.size()) == prefix);
        CHECK(parse_key_text(text, prefix) == k.bytes);
    }
    CHECK(PrivateKey::parse(k.text()).bytes == k.bytes);
    // Marshalling is lowercase; parsing takes either case.
    auto upper = k.text();
    for (std::size_t i = kPrivatePrefix.size(); i < upper.size(); ++i)
        upper[i] = static_cast<char>(std::toupper(upper[i]));
    CHECK(PrivateKey::parse(upper).bytes == k.bytes);
}

TEST_CASE("key text rejections name what was expected") {
    const std::string good = "nodekey:" + std::string(64, 'a');
    REQUIRE_NOTHROW(parse_key_text(good, kNodePrefix));
    CHECK_THROWS_WITH(parse_key_text("mkey:" + std::string(64, 'a'), kNodePrefix),
                      Catch::Contains("expected \"nodekey:\"") && Catch::Contains("got prefix \"mkey:\""));
    CHECK_THROWS_WITH(parse_key_text(std::string(64, 'a'), kNodePrefix), Catch::Contains("no \"nodekey:\" prefix"));
    CHECK_THROWS_WITH(parse_key_text("NODEKEY:" + std::string(64, 'a'), kNodePrefix), Catch::Contains("got prefix"));
    CHECK_THROWS_WITH(parse_key_text("nodekey:" + std::string(63, 'a'), kNodePrefix), Catch::Contains("got 63"));
    CHECK_THROWS_WITH(parse_key_text("nodekey:" + std::string(65, 'a'), kNodePrefix), Catch::Contains("got 65"));
    CHECK_THROWS_WITH(parse_key_text("nodekey:", kNodePrefix), Catch::Contains("got 0"));
    CHECK_THROWS_WITH(parse_key_text("nodekey:" + std::string(63, 'a') + "g", kNodePrefix),
                      Catch::Contains("non-hex character at position 64"));
    CHECK_THROWS_WITH(parse_key_text("nodekey: " + std::string(63, 'a'), kNodePrefix),
                      Catch::Contains("non-hex character at position 1"));
    CHECK_THROWS_AS(parse_key_text("", kNodePrefix), KeyError);
}

TEST_CASE("public prefixes by key type") {
    CHECK(public_prefix(parse_key_type("machine")) == "mkey:");
    CHECK(public_prefix(parse_key_type("noise")) == "mkey:");
    CHECK(public_prefix(parse_key_type("node")) == "nodekey:");
    CHECK(public_prefix(parse_key_type("derp")) == "nodekey:");
    CHECK(public_prefix(parse_key_type("disco")) == "discokey:");
    CHECK_THROWS_WITH(parse_key_type("wireguard"), Catch::Contains("expected machine, node, disco, derp or noise"));
}

TEST_CASE("private key files: bare text, headscale's files, derper's JSON") {
    const auto k = PrivateKey::generate();
    CHECK(parse_private_key_file(k.text()).bytes == k.bytes);
    CHECK(parse_private_key_file(k.text() + "\n").bytes == k.bytes);
    CHECK(parse_private_key_file("  " + k.text() + "\r\n").bytes == k.bytes);
    CHECK(parse_private_key_file("{\"PrivateKey\": \"" + k.text() + "\"}\n").bytes == k.bytes);
    CHECK_THROWS_WITH(parse_private_key_file(""), Catch::Contains("empty input"));
    CHECK_THROWS_WITH(parse_private_key_file("{\"PrivateKey\": 5}"), Catch::Contains("PrivateKey"));
    CHECK_THROWS_WITH(parse_private_key_file("{not json"), Catch::Contains("not valid JSON"));
    CHECK_THROWS_WITH(parse_private_key_file("nodekey:" + std::string(64, '0')), Catch::Contains("privkey:"));
    CHECK_THROWS_AS(parse_private_key_file(k.text() + " extra"), KeyError);
}
