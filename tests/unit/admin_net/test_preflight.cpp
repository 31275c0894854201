#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "common/admin/net/preflight.h"
#include "tests/unit/temp_dir.h"

using namespace hs;
using Catch::Contains;

namespace {

const char* kDerpMap = R"(
regions:
  900:
    regionid: 900
    regioncode: lab
    regionname: Lab DERP
    nodes:
      - name: 900a
        regionid: 900
        hostname: 127.0.0.1
        ipv4: 127.0.0.1
        ipv6: none
)";

void write(const std::string& path, const std::string& text, mode_t mode = 0600) {
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
}

// A config whose every input lives in `dir` and does not exist yet, with a DERP map file.
Config fresh(const test::TempDir& dir) {
    Config c;
    c.database_path = dir.file("db.sqlite");
    c.noise_private_key_path = dir.file("noise.key");
    write(dir.file("derp.yaml"), kDerpMap);
    c.derp.paths = {dir.file("derp.yaml")};
    return c;
}

}  // namespace

TEST_CASE("preflight on a fresh setup says what start-up will create, and creates nothing") {
    test::TempDir dir;
    const auto result = admin::preflight(fresh(dir));
    CHECK(result.policy_problems.empty());
    REQUIRE(result.notes.size() == 2);
    CHECK_THAT(result.notes[0], Contains("db.sqlite will be created"));
    CHECK_THAT(result.notes[1], Contains("noise.key will be created"));
    CHECK_FALSE(std::filesystem::exists(dir.file("db.sqlite")));
    CHECK_FALSE(std::filesystem::exists(dir.file("noise.key")));
}

TEST_CASE("preflight stops at what would stop a start") {
    test::TempDir dir;
    auto c = fresh(dir);
    SECTION("no DERP region") {
        c.derp.paths.clear();
        CHECK_THROWS_WITH(admin::preflight(c), Contains("DERP map is empty"));
    }
    SECTION("a malformed key file") {
        write(c.noise_private_key_path, "not a key\n");
        CHECK_THROWS_WITH(admin::preflight(c), Contains("noise.key"));
    }
    SECTION("a database that is not one") {
        write(c.database_path, std::string(4096, 'x'));
        CHECK_THROWS(admin::preflight(c));
    }
}

TEST_CASE("preflight returns a refused policy file with its line, and a missing one as an error") {
    test::TempDir dir;
    auto c = fresh(dir);
    c.policy_mode = "file";
    c.policy_path = dir.file("policy.hujson");
    write(c.policy_path, "{\"acls\": [{\"action\": \"allow\", \"src\": [\"*\"], \"dst\": [\"*:*\"]}]}");
    const auto result = admin::preflight(c);
    CHECK_THAT(result.policy_problems, Contains("policy file " + c.policy_path + " is refused"));
    std::filesystem::remove(c.policy_path);
    CHECK_THROWS_WITH(admin::preflight(c), Contains("cannot read policy file"));
}
