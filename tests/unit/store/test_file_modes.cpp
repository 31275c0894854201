#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "common/base/files.h"
#include "common/base/key_file.h"
#include "common/store/db.h"
#include "tests/unit/temp_dir.h"

using namespace hs;
using Catch::Contains;
using hs::test::TempDir;

namespace {

// The usual umask of a shell, under which an open(..., 0666) file is readable by everyone.
struct Umask022 {
    mode_t saved = ::umask(022);
    ~Umask022() { ::umask(saved); }
};

unsigned mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 0777;
}

void write_with_mode(const std::string& path, const std::string& data, unsigned mode) {
    std::ofstream(path) << data;
    REQUIRE(::chmod(path.c_str(), mode) == 0);
}

}  // namespace

TEST_CASE("the database and its -wal and -shm files are created 0600 under umask 022") {
    TempDir t;
    Umask022 u;
    const auto path = t.file("hs.db");
    Db db(path);
    db.exec("INSERT INTO users(name, created_at, updated_at) VALUES ('bob', 'x', 'x')");
    CHECK(mode_of(path) == 0600);
    CHECK(mode_of(path + "-wal") == 0600);
    CHECK(mode_of(path + "-shm") == 0600);
}

TEST_CASE("an existing database keeps the mode its admin gave it") {
    TempDir t;
    const auto path = t.file("hs.db");
    { Db db(path); }
    REQUIRE(::chmod(path.c_str(), 0660) == 0);
    Db db(path);
    CHECK(mode_of(path) == 0660);
}

TEST_CASE("key files are created 0600 under umask 022") {
    TempDir t;
    Umask022 u;
    bool created = false;
    load_or_create_key_file(t.file("noise.key"), &created);
    CHECK(created);
    CHECK(mode_of(t.file("noise.key")) == 0600);
    write_file_atomic(t.file("out.key"), "privkey:x\n", 0600, false);
    CHECK(mode_of(t.file("out.key")) == 0600);
}

TEST_CASE("a key file group or others may access is refused with the chmod that fixes it") {
    TempDir t;
    const auto path = t.file("noise.key");
    load_or_create_key_file(path);
    REQUIRE(::chmod(path.c_str(), 0644) == 0);
    CHECK_THROWS_WITH(load_or_create_key_file(path),
                      Contains(path + ": permissions 0644 are too open") && Contains("chmod 600 " + path));
    REQUIRE(::chmod(path.c_str(), 0640) == 0);
    CHECK_THROWS_WITH(load_or_create_key_file(path), Contains("0640"));
    REQUIRE(::chmod(path.c_str(), 0600) == 0);
    CHECK_NOTHROW(load_or_create_key_file(path));
    REQUIRE(::chmod(path.c_str(), 0400) == 0);
    CHECK_NOTHROW(load_or_create_key_file(path));
}

TEST_CASE("a TLS key only its group may read is accepted; one others may read is not") {
    TempDir t;
    const auto path = t.file("tls.key");
    write_with_mode(path, "pem", 0640);
    CHECK_NOTHROW(check_private_file(path, GroupRead::Warn));
    CHECK_THROWS_AS(check_private_file(path), FileError);
    REQUIRE(::chmod(path.c_str(), 0660) == 0);
    CHECK_THROWS_AS(check_private_file(path, GroupRead::Warn), FileError);
    REQUIRE(::chmod(path.c_str(), 0604) == 0);
    CHECK_THROWS_WITH(check_private_file(path, GroupRead::Warn), Contains("0604") && Contains("chmod 600"));
}

TEST_CASE("create errors name a read-only filesystem, a missing directory or a refused one") {
    CHECK(fs_error_text("cannot create", "/ro/hs.db", EROFS) ==
          "cannot create /ro/hs.db: the filesystem is read-only (EROFS)");
    CHECK(fs_error_text("cannot create", "/nope/hs.db", ENOENT) ==
          "cannot create /nope/hs.db: the directory /nope does not exist (ENOENT)");
    CHECK_THAT(fs_error_text("cannot create", "/etc/x/k", EACCES),
               Contains("may not write in /etc/x") && Contains("EACCES"));
    CHECK_THAT(fs_error_text("cannot create", "k", EACCES), Contains("may not write in ."));
}

TEST_CASE("a key or database in a missing directory says which directory is missing") {
    TempDir t;
    CHECK_THROWS_WITH(
        write_file_atomic(t.file("nodir/k"), "x", 0600, false),
        Contains("cannot create " + t.file("nodir/k")) && Contains("directory " + t.file("nodir") + " does not exist"));
    CHECK_THROWS_WITH(Db("/proc/hs-cannot-exist/x.db"), Contains("/proc/hs-cannot-exist/x.db") && Contains("(E"));
}
