#include <catch2/catch.hpp>

#include <stdexcept>

#include "common/net/forwarded.h"

using hs::TrustedProxies;

TEST_CASE("forwarded: headers from an untrusted peer are ignored") {
    const TrustedProxies none({});
    CHECK(none.client_ip("203.0.113.9", "198.51.100.1", "198.51.100.2") == "203.0.113.9");
    const TrustedProxies lo({"127.0.0.0/8"});
    CHECK(lo.client_ip("10.0.0.5", "198.51.100.1", "198.51.100.2") == "10.0.0.5");
}

TEST_CASE("forwarded: a trusted proxy's X-Forwarded-For names the client") {
    const TrustedProxies t({"127.0.0.0/8", "10.9.0.0/16", "fd00::/8"});
    CHECK(t.trusts("127.0.0.1"));
    CHECK(t.trusts("::ffff:127.0.0.1"));
    CHECK(t.trusts("fd00::1"));
    CHECK_FALSE(t.trusts("10.8.0.1"));
    CHECK(t.client_ip("127.0.0.1", "198.51.100.1", "") == "198.51.100.1");
    CHECK(t.client_ip("::ffff:127.0.0.1", " 2001:db8::7 ", "") == "2001:db8::7");
    // The rightmost untrusted entry: what the first trusted hop saw. Left of it may be forged.
    CHECK(t.client_ip("127.0.0.1", "6.6.6.6, 198.51.100.1, 10.9.1.1", "") == "198.51.100.1");
    // Every hop trusted: the leftmost one is the origin.
    CHECK(t.client_ip("127.0.0.1", "10.9.0.4,10.9.0.5", "") == "10.9.0.4");
    CHECK(t.client_ip("fd00::2", "::ffff:198.51.100.3", "") == "198.51.100.3");
}

TEST_CASE("forwarded: X-Real-IP counts only without X-Forwarded-For") {
    const TrustedProxies t({"127.0.0.1/32"});
    CHECK(t.client_ip("127.0.0.1", "", "198.51.100.4") == "198.51.100.4");
    CHECK(t.client_ip("127.0.0.1", "198.51.100.1", "198.51.100.4") == "198.51.100.1");
    CHECK(t.client_ip("127.0.0.1", "", "") == "127.0.0.1");
}

TEST_CASE("forwarded: malformed entries leave the proxy's own address") {
    const TrustedProxies t({"127.0.0.1/32"});
    CHECK(t.client_ip("127.0.0.1", "not-an-ip", "") == "127.0.0.1");
    CHECK(t.client_ip("127.0.0.1", "198.51.100.1:443", "") == "127.0.0.1");
    CHECK(t.client_ip("127.0.0.1", "198.51.100.1,,", "") == "127.0.0.1");
    CHECK(t.client_ip("127.0.0.1", "", "unknown") == "127.0.0.1");
    CHECK_THROWS_AS(TrustedProxies({"10.0.0.1/8"}), std::invalid_argument);
}
