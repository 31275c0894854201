#include <catch2/catch.hpp>

#include "common/base/url.h"

using hs::Plus;

TEST_CASE("url_unescape: percent escapes, '+' by component, malformed escapes kept") {
    CHECK(hs::url_unescape("a%2Bb%2fc", Plus::Literal) == "a+b/c");
    CHECK(hs::url_unescape("a+b", Plus::Literal) == "a+b");
    CHECK(hs::url_unescape("a+b", Plus::Space) == "a b");
    CHECK(hs::url_unescape("%41", Plus::Space) == "A");
    CHECK(hs::url_unescape("100%", Plus::Space) == "100%");
    CHECK(hs::url_unescape("%4", Plus::Space) == "%4");
    CHECK(hs::url_unescape("%zz%", Plus::Space) == "%zz%");
}

TEST_CASE("request targets split into path and query") {
    CHECK(hs::target_path("/ts2021?x=1") == "/ts2021");
    CHECK(hs::target_query("/ts2021?x=1") == "x=1");
    CHECK(hs::target_path("/") == "/");
    CHECK(hs::target_query("/").empty());
}

TEST_CASE("parse_query: decoded pairs, '+' as space, empty parts skipped") {
    const auto q = hs::parse_query("a=1&&b=x+y%2B&c&=v");
    REQUIRE(q.size() == 4);
    CHECK(q[0] == std::pair<std::string, std::string>{"a", "1"});
    CHECK(q[1] == std::pair<std::string, std::string>{"b", "x y+"});
    CHECK(q[2] == std::pair<std::string, std::string>{"c", ""});
    CHECK(q[3] == std::pair<std::string, std::string>{"", "v"});
    CHECK(hs::query_value("q=one&q=two", "q") == "one");
    CHECK(hs::query_value("qq=1", "q") == std::nullopt);
    CHECK(hs::query_value("X-Tailscale-Handshake=AB%2Bc%3D%3D", "X-Tailscale-Handshake") == "AB+c==");
}
