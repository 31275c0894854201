#include <catch2/catch.hpp>

#include <vector>

#include "common/stun/message.h"

using namespace hs;
using namespace hs::stun;

namespace {

TxId txid_1_to_12() {
    TxId t;
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<std::uint8_t>(i + 1);
    return t;
}

std::vector<std::uint8_t> bytes(std::initializer_list<int> l) {
    std::vector<std::uint8_t> v;
    for (int b : l) v.push_back(static_cast<std::uint8_t>(b));
    return v;
}

std::vector<std::uint8_t> respond(const IpAddr& ip, std::uint16_t port) {
    std::array<std::uint8_t, kMaxResponseLen> out{};
    const std::size_t n = build_response(txid_1_to_12(), ip, port, out);
    return {out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n)};
}

}  // namespace

TEST_CASE("STUN request matches the one tailscaled sends") {
    const auto req = tailscale_request(txid_1_to_12());
    const auto want = bytes({0x00, 0x01, 0x00, 0x14, 0x21, 0x12, 0xa4, 0x42, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                             0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x80, 0x22, 0x00, 0x08, 0x74, 0x61, 0x69, 0x6c,
                             0x6e, 0x6f, 0x64, 0x65, 0x80, 0x28, 0x00, 0x04, 0xb3, 0x2c, 0x37, 0x0f});
    CHECK(std::vector<std::uint8_t>(req.begin(), req.end()) == want);
    TxId got{};
    CHECK(parse_request(req, got) == Error::None);
    CHECK(got == txid_1_to_12());
}

TEST_CASE("STUN response carries the sender in XOR-MAPPED-ADDRESS") {
    SECTION("IPv4, byte for byte") {
        const auto r = respond(*parse_ip("192.0.2.1"), 41641);
        CHECK(r ==
              bytes({0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                     0x09, 0x0a, 0x0b, 0x0c, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0x83, 0xbb, 0xe1, 0x12, 0xa6, 0x43}));
        const auto m = parse_response(r, txid_1_to_12());
        REQUIRE(m);
        CHECK(m->ip.str() == "192.0.2.1");
        CHECK(m->port == 41641);
    }
    SECTION("IPv6, byte for byte") {
        const auto r = respond(*parse_ip("2001:db8::1"), 41641);
        CHECK(r == bytes({0x01, 0x01, 0x00, 0x18, 0x21, 0x12, 0xa4, 0x42, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                          0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0x83, 0xbb, 0x01, 0x13,
                          0xa9, 0xfa, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0d}));
        const auto m = parse_response(r, txid_1_to_12());
        REQUIRE(m);
        CHECK(m->ip.str() == "2001:db8::1");
        CHECK(m->port == 41641);
    }
    SECTION("an IPv4-mapped source from a dual-stack socket is answered as IPv4") {
        const auto r = respond(*parse_ip("::ffff:10.1.2.3"), 5);
        REQUIRE(r.size() == 32);
        CHECK(r[25] == 1);
        const auto m = parse_response(r, txid_1_to_12());
        REQUIRE(m);
        CHECK(m->ip.str() == "10.1.2.3");
    }
    SECTION("a response for another transaction is ignored") {
        TxId other = txid_1_to_12();
        other[0] ^= 1;
        CHECK_FALSE(parse_response(respond(*parse_ip("192.0.2.1"), 1), other));
    }
}

TEST_CASE("STUN requests that are not well-formed are rejected with a reason") {
    const auto good = tailscale_request(txid_1_to_12());
    std::vector<std::uint8_t> p(good.begin(), good.end());
    TxId t{};
    SECTION("short") { CHECK(parse_request(std::span(p).first(19), t) == Error::TooShort); }
    SECTION("no magic cookie") {
        p[4] = 0;
        CHECK(parse_request(p, t) == Error::NotStun);
    }
    SECTION("top bits set (not STUN)") {
        p[0] = 0x80;
        CHECK(parse_request(p, t) == Error::NotStun);
    }
    SECTION("not a binding request") {
        p[1] = 0x03;
        CHECK(parse_request(p, t) == Error::NotBindingRequest);
    }
    SECTION("length field disagrees with the datagram") {
        p[3] = 0x18;
        CHECK(parse_request(p, t) == Error::BadLength);
        p[3] = 0x13;
        CHECK(parse_request(p, t) == Error::BadLength);
        p[3] = 0x14;
        p.push_back(0);
        CHECK(parse_request(p, t) == Error::BadLength);
    }
    SECTION("wrong fingerprint") {
        p[39] ^= 1;
        CHECK(parse_request(p, t) == Error::BadFingerprint);
    }
    SECTION("a changed byte under the fingerprint") {
        p[10] ^= 1;
        CHECK(parse_request(p, t) == Error::BadFingerprint);
    }
    SECTION("an attribute longer than the message") {
        p[23] = 0x40;
        CHECK(parse_request(p, t) == Error::BadAttribute);
    }
    SECTION("fingerprint not last") {
        // Swap: FINGERPRINT first, then SOFTWARE.
        std::vector<std::uint8_t> q(p.begin(), p.begin() + 20);
        q.insert(q.end(), {0x80, 0x28, 0x00, 0x04, 0, 0, 0, 0});
        q.insert(q.end(), p.begin() + 20, p.begin() + 32);
        CHECK(parse_request(q, t) == Error::BadFingerprint);
    }
    SECTION("a bare header without attributes is a valid request") {
        std::vector<std::uint8_t> q(p.begin(), p.begin() + 20);
        q[3] = 0;
        CHECK(parse_request(q, t) == Error::None);
    }
}

TEST_CASE("STUN handle_packet counts what it drops") {
    Counters c;
    std::array<std::uint8_t, kMaxResponseLen> out{};
    const auto req = tailscale_request(txid_1_to_12());
    CHECK(handle_packet(req, *parse_ip("127.0.0.1"), 40000, out, c) == 32);
    std::vector<std::uint8_t> junk{1, 2, 3};
    CHECK(handle_packet(junk, *parse_ip("127.0.0.1"), 40000, out, c) == 0);
    CHECK(c.requests == 1);
    CHECK(c.malformed_total() == 1);
    CHECK(c.malformed[static_cast<std::size_t>(Error::TooShort)] == 1);
    CHECK(c.prometheus_text().find("stun_malformed_total{reason=\"too_short\"} 1") != std::string::npos);
}
