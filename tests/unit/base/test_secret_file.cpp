#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/base/files.h"
#include "common/base/secret_file.h"

using Catch::Contains;

namespace {

struct TempDir {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("hs-secret-test-" + std::to_string(::getpid()));
    TempDir() { std::filesystem::create_directories(path); }
    ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST_CASE("expand_env_path: $NAME and ${NAME} from the environment, an unset one empty") {
    ::setenv("HS_TEST_CRED", "/run/credentials/hs.service", 1);
    ::unsetenv("HS_TEST_UNSET");
    CHECK(hs::expand_env_path("k", "${HS_TEST_CRED}/pw") == "/run/credentials/hs.service/pw");
    CHECK(hs::expand_env_path("k", "$HS_TEST_CRED/pw") == "/run/credentials/hs.service/pw");
    CHECK(hs::expand_env_path("k", "/a/$HS_TEST_UNSET/b") == "/a//b");
    CHECK(hs::expand_env_path("k", "/plain/path") == "/plain/path");
    CHECK_THROWS_WITH(hs::expand_env_path("database.postgres.pass_path", "${HS_TEST_CRED/pw"),
                      Contains("database.postgres.pass_path: unclosed ${"));
}

TEST_CASE("read_secret_file: content without the whitespace around it; unreadable, empty or huge refused") {
    TempDir dir;
    const auto p = (dir.path / "secret").string();
    std::ofstream(p) << "  correct horse \n";
    CHECK(hs::read_secret_file("key", p) == "correct horse");
    ::setenv("HS_TEST_SECRET_DIR", dir.path.c_str(), 1);
    CHECK(hs::read_secret_file("key", "${HS_TEST_SECRET_DIR}/secret") == "correct horse");

    std::ofstream(p) << " \r\n\n";
    CHECK_THROWS_AS(hs::read_secret_file("key", p), hs::FileError);
    CHECK_THROWS_WITH(hs::read_secret_file("key", p), Contains("key " + p + ": the file is empty"));
    CHECK_THROWS_WITH(hs::read_secret_file("key", p + ".none"), Contains("key " + p + ".none: cannot open"));
    std::ofstream(p) << std::string(70000, 'x');
    CHECK_THROWS_WITH(hs::read_secret_file("key", p), Contains("longer than 65536 bytes"));
}
