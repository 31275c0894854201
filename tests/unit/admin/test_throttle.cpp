#include <catch2/catch.hpp>

#include "common/admin/throttle.h"

using namespace hs;
using namespace hs::admin;
using namespace std::chrono_literals;

TEST_CASE("throttle: a source's failures beyond the burst wait, refilled at the rate") {
    Throttle t({.burst = 3, .per_second = 0.5});
    const TimePoint t0{};
    for (int i = 0; i < 3; ++i) {
        CHECK_FALSE(t.source_wait("10.0.0.1", t0));
        t.failure("10.0.0.1", "", t0);
    }
    REQUIRE(t.source_wait("10.0.0.1", t0));
    CHECK(*t.source_wait("10.0.0.1", t0) == 2s);  // one token at 0.5/s
    CHECK_FALSE(t.source_wait("10.0.0.2", t0));   // another address is not slowed
    CHECK_FALSE(t.source_wait("10.0.0.1", t0 + 2s));
}

TEST_CASE("throttle: 5 failures in the window lock the key, lockouts double, unlock forgets") {
    Throttle t;
    TimePoint now{};
    for (int i = 0; i < 4; ++i) CHECK_FALSE(t.failure("a", "key1", now));
    CHECK_FALSE(t.locked_until("key1", now));
    CHECK(t.failure("b", "key1", now));  // from any address
    REQUIRE(t.locked_until("key1", now));
    CHECK(*t.locked_until("key1", now) == now + 15min);
    CHECK_FALSE(t.locked_until("key2", now));
    now += 16min;
    CHECK_FALSE(t.locked_until("key1", now));
    for (int i = 0; i < 4; ++i) t.failure("a", "key1", now);
    CHECK(t.failure("a", "key1", now));
    CHECK(*t.locked_until("key1", now) == now + 30min);
    t.unlock("key1");
    CHECK_FALSE(t.locked_until("key1", now));
}

TEST_CASE("throttle: failures spread beyond the window never lock; success starts over") {
    Throttle t;
    TimePoint now{};
    for (int i = 0; i < 20; ++i) {
        CHECK_FALSE(t.failure("a", "k", now));
        if (i % 4 == 3) now += 16min;
    }
    for (int i = 0; i < 4; ++i) t.failure("a", "k2", now);
    t.success("k2");
    CHECK_FALSE(t.failure("a", "k2", now));
}

TEST_CASE("throttle: lockout state restores (persistence) and the lock is capped") {
    Throttle t({.first_lockout = 1h, .max_lockout = 3h});
    TimePoint now{};
    Throttle::KeyState s;
    s.lockouts = 5;
    t.restore("k", s);
    for (int i = 0; i < 5; ++i) t.failure("a", "k", now);
    CHECK(*t.locked_until("k", now) == now + 3h);
}
