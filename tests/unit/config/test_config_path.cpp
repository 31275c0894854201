#include <catch2/catch.hpp>

#include <cstdlib>

#include "common/config/config.h"

TEST_CASE("config_path: the flag, else $HS_CONFIG, else $HEADSCALE_CONFIG, else the default") {
    ::unsetenv("HS_CONFIG");
    ::unsetenv("HEADSCALE_CONFIG");
    CHECK(hs::config_path() == hs::kDefaultConfigPath);
    ::setenv("HEADSCALE_CONFIG", "/h.yaml", 1);
    CHECK(hs::config_path() == "/h.yaml");
    ::setenv("HS_CONFIG", "", 1);  // empty counts as unset
    CHECK(hs::config_path() == "/h.yaml");
    ::setenv("HS_CONFIG", "/hs.yaml", 1);
    CHECK(hs::config_path() == "/hs.yaml");
    CHECK(hs::config_path("/flag.yaml") == "/flag.yaml");
    ::unsetenv("HS_CONFIG");
    ::unsetenv("HEADSCALE_CONFIG");
}
