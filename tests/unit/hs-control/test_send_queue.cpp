// The bounded send queue of a map stream: messages leave whole and in order, shared pieces are
// read across, and a client that falls behind gets one fresh full map instead of an ever
// longer queue of updates.
#include <catch2/catch.hpp>

#include <string>

#include "tools/hs-control/send_queue.h"

using namespace hs;
using namespace hs::control;
using Kind = SendQueue::Kind;

namespace {

FrameParts msg(std::initializer_list<std::string> pieces) {
    FrameParts p;
    for (const auto& s : pieces) p.push_back(std::make_shared<const std::string>(s));
    return p;
}

std::string read_all(SendQueue& q, std::size_t chunk = 3) {
    std::string out;
    std::string buf(chunk, '\0');
    for (std::size_t n; (n = q.read(reinterpret_cast<std::uint8_t*>(buf.data()), chunk)) > 0;) out.append(buf, 0, n);
    return out;
}

}  // namespace

TEST_CASE("send queue: messages of shared pieces are read whole and in order") {
    SendQueue q(100);
    const auto shared = std::make_shared<const std::string>("PEERS");
    q.push({std::make_shared<const std::string>("head:"), shared, std::make_shared<const std::string>(":tail")},
           Kind::Full);
    q.push(msg({"u1"}), Kind::Update);
    q.push(msg({"u2", "", "!"}), Kind::Update);
    CHECK(q.bytes() == 15 + 2 + 3);
    CHECK(read_all(q) == "head:PEERS:tailu1u2!");
    CHECK(q.empty());
    CHECK(q.bytes() == 0);
    CHECK(shared.use_count() == 1);  // the queue let go of the piece once it was read
    CHECK_FALSE(q.take_resync());
    CHECK(q.dropped() == 0);
}

TEST_CASE("send queue: a full map supersedes the updates not yet begun") {
    SendQueue q(100);
    q.push(msg({"map1"}), Kind::Full);
    q.push(msg({"u1"}), Kind::Update);
    std::uint8_t b[2];
    REQUIRE(q.read(b, 2) == 2);  // "ma": the first map has begun and is kept
    q.push(msg({"u2"}), Kind::Update);
    q.push(msg({"map2"}), Kind::Full);
    CHECK(q.dropped() == 2);
    CHECK(read_all(q) == "p1map2");
}

TEST_CASE("send queue: past the bound, updates are dropped for one fresh full map") {
    SendQueue q(10);
    q.push(msg({"0123456789abcdef"}), Kind::Full);  // a map larger than the bound still goes
    std::uint8_t b[4];
    REQUIRE(q.read(b, 4) == 4);
    // The map in progress does not count against the bound; the updates after it do.
    q.push(msg({"u1234"}), Kind::Update);
    q.push(msg({"u5678"}), Kind::Update);
    CHECK_FALSE(q.stale());
    CHECK(q.bytes() == 12 + 10);
    q.push(msg({"u9"}), Kind::Update);  // 12 bytes not begun: over the bound
    CHECK(q.stale());
    CHECK(q.dropped() == 3);
    CHECK(q.bytes() == 12);               // only the rest of the map in progress
    q.push(msg({"late"}), Kind::Update);  // stale: dropped too, the full map will carry it
    CHECK(q.dropped() == 4);
    CHECK_FALSE(q.take_resync());  // not before the map in progress is out
    CHECK(read_all(q) == "456789abcdef");
    CHECK(q.take_resync());
    CHECK_FALSE(q.take_resync());  // once
    q.push(msg({"fresh"}), Kind::Full);
    q.push(msg({"u"}), Kind::Update);
    CHECK_FALSE(q.stale());
    CHECK(read_all(q) == "freshu");
}

TEST_CASE("send queue: a full map pushed while stale ends the staleness") {
    SendQueue q(4);
    q.push(msg({"m"}), Kind::Full);
    q.push(msg({"12345"}), Kind::Update);
    REQUIRE(q.stale());
    CHECK(q.empty());  // nothing of the map had been read: it was dropped with the update
    q.push(msg({"new"}), Kind::Full);
    CHECK_FALSE(q.stale());
    CHECK_FALSE(q.take_resync());
    CHECK(read_all(q) == "new");
}

TEST_CASE("send queue: an empty message adds nothing") {
    SendQueue q;
    q.push({}, Kind::Full);
    q.push(msg({""}), Kind::Update);
    CHECK(q.empty());
    std::uint8_t b[1];
    CHECK(q.read(b, 1) == 0);
}
