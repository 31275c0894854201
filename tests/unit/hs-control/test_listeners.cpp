// Pacing of failing accept loops, the TS2021 connection deadlines and the instance lock:
// the pure parts of what keeps a listener alive under abuse (issue 19, findings 4 and 7).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "common/base/backoff.h"
#include "common/base/lock_file.h"
#include "common/net/accept_loop.h"
#include "tools/hs-control/conn_deadline.h"

using namespace std::chrono_literals;

TEST_CASE("accept backoff doubles from 100 ms to 1 s and starts over after a success") {
    hs::Backoff b;
    std::vector<long> got;
    for (int i = 0; i < 7; ++i) got.push_back(static_cast<long>(b.next().count()));
    CHECK(got == std::vector<long>{100, 200, 400, 800, 1000, 1000, 1000});
    b.reset();
    CHECK(b.next() == 100ms);
}

TEST_CASE("accept errors about one connection are retried, running out of descriptors is not") {
    CHECK(hs::accept_error_is_per_connection(ECONNABORTED));
    CHECK(hs::accept_error_is_per_connection(EPROTO));
    CHECK_FALSE(hs::accept_error_is_per_connection(EMFILE));
    CHECK_FALSE(hs::accept_error_is_per_connection(ENFILE));
    CHECK_FALSE(hs::accept_error_is_per_connection(ENOBUFS));
    CHECK_FALSE(hs::accept_error_is_per_connection(ENOMEM));
}

TEST_CASE("an upgraded TS2021 connection must send a request and may not idle without a long poll") {
    using hs::control::Deadline;
    const hs::control::Ts2021Limits lim{30s, 120s};
    hs::control::ConnActivity a;
    const auto t0 = a.opened;
    CHECK(a.check(t0 + 29s, false, lim) == Deadline::None);
    CHECK(a.check(t0 + 30s, false, lim) == Deadline::NoRequest);
    // Waiting for an interactive login, or streaming the map, is never cut.
    CHECK(a.check(t0 + 1h, true, lim) == Deadline::None);

    a.requested = true;
    a.heard = t0 + 10s;
    CHECK(a.check(t0 + 100s, false, lim) == Deadline::None);
    CHECK(a.check(t0 + 130s, false, lim) == Deadline::Idle);
    CHECK(a.check(t0 + 130s, true, lim) == Deadline::None);
}

TEST_CASE("the test override of the TS2021 deadlines is parsed strictly") {
    const auto l = hs::control::parse_ts2021_limits("2s,5s");
    CHECK(l.first_request == 2s);
    CHECK(l.idle == 5s);
    CHECK_THROWS_WITH(hs::control::parse_ts2021_limits("2s"), Catch::Contains("HS_TEST_TS2021_TIMEOUTS"));
    CHECK_THROWS(hs::control::parse_ts2021_limits("0,5s"));
    CHECK_THROWS(hs::control::parse_ts2021_limits("2x,5s"));
}

TEST_CASE("a second lock on the same file is refused with the holder's pid") {
    const auto dir = std::filesystem::temp_directory_path() / ("hs-lock-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto path = (dir / "db.sqlite.lock").string();
    {
        hs::LockFile first(path, "database db.sqlite");
        // flock(2) locks belong to the open file, so a second open in this process conflicts
        // just as a second process would.
        CHECK_THROWS_WITH(hs::LockFile(path, "database db.sqlite"),
                          Catch::Contains("database db.sqlite is in use by another process (pid " +
                                          std::to_string(::getpid()) + ")"));
    }
    CHECK_NOTHROW(hs::LockFile(path, "database db.sqlite"));  // released with its holder
    std::filesystem::remove_all(dir);
}
