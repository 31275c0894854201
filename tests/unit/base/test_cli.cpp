#include <catch2/catch.hpp>

#include "common/base/cli.h"

using namespace hs;
using V = std::vector<std::string>;

TEST_CASE("comma-separated flag values split as derper's do") {
    CHECK(split_comma_list("derp1.example.com,derp2.example.com:8443,[::1]:443/10.0.0.3") ==
          V{"derp1.example.com", "derp2.example.com:8443", "[::1]:443/10.0.0.3"});
    CHECK(split_comma_list("a,,b,") == V{"a", "b"});
    CHECK(split_comma_list(",").empty());
    CHECK(split_comma_list("").empty());
}
