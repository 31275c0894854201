// Routes learned from mesh peers (PeerPresent/PeerGone on a WatchConns link) and what a route
// withdrawal tells the clients: derper's AddPacketForwarder/RemovePacketForwarder semantics.
#include <catch2/catch.hpp>

#include "tests/unit/derp_net/relay_fakes.h"

using namespace hs;
using namespace hs::derp;
using namespace hs::derp::testing;

namespace {

// A mesh link as the relay sees it: records what it was asked to forward.
struct FakeLink final : Forwarder {
    std::vector<std::pair<PublicKey, PublicKey>> sent;  // (src, dst)
    void forward(const PublicKey& src, const PublicKey& dst, ByteView) override { sent.emplace_back(src, dst); }
};

const PublicKey kRemote{from_hex(std::string(64, 'e'), "k")};  // a client on another node of the region

// What the mesh peer does when kRemote, connected to it, sends `to` a packet.
void forward_from_remote(DerpServer& s, Fake& mesh_peer, const Fake& to) {
    s.handle_frame(mesh_peer.c, frame_of(encode_forward_packet(kRemote, to.key(), data_of(20, 9))));
}

const Key32 kMeshKey = from_hex(std::string(64, 'd'), "mesh");

DerpServer::Options meshed() {
    DerpServer::Options o{PrivateKey::generate()};
    o.mesh_key = kMeshKey;
    return o;
}

Fake mesh_peer_of(DerpServer& s) {
    ClientInfo mi;
    mi.mesh_key = kMeshKey;
    return Fake(s, mi);
}

}  // namespace

TEST_CASE("DERP mesh route withdrawal sends PeerGone(Disconnected) to the clients that heard from the key") {
    DerpServer s(meshed());
    Fake a(s), bystander(s);
    Fake peer = mesh_peer_of(s);
    auto link = std::make_shared<FakeLink>();
    s.add_mesh_route(kRemote, link);

    // a talks to kRemote through the mesh and hears back from it.
    s.handle_frame(a.c, frame_of(encode_send_packet(kRemote, data_of(10, 1))));
    REQUIRE(link->sent.size() == 1);
    CHECK(link->sent[0] == std::make_pair(a.key(), kRemote));
    forward_from_remote(s, peer, a);
    REQUIRE(a.drain().size() == 1);  // a now wants kRemote's PeerGone

    SECTION("the last route goes and the key is not here: PeerGone(Disconnected) to a only") {
        s.remove_mesh_route(kRemote, link.get());
        auto got = a.drain();
        REQUIRE(got.size() == 1);
        CHECK(got[0] == encode_peer_gone(kRemote, PeerGoneReason::Disconnected));
        CHECK(bystander.drain().empty());
        CHECK(s.stats().peer_gone_disconnected == 1);
        CHECK(s.mesh_routes_of(kRemote) == 0);
        // Said once: a second withdrawal (a repeated PeerGone on the link) says nothing more.
        s.remove_mesh_route(kRemote, link.get());
        CHECK(a.drain().empty());
        // And packets for the key are now unknown_dest drops, not forwards.
        s.handle_frame(a.c, frame_of(encode_send_packet(kRemote, data_of(10, 2))));
        CHECK(link->sent.size() == 1);
        CHECK(s.stats().packets_dropped[static_cast<std::size_t>(DropReason::UnknownDest)] == 1);
    }
    SECTION("another link still announces the key: it moved inside the region, nobody is told") {
        auto other = std::make_shared<FakeLink>();
        s.add_mesh_route(kRemote, other);
        s.add_mesh_route(kRemote, other);  // derper announces every connection; one route each
        CHECK(s.mesh_routes_of(kRemote) == 2);
        // The oldest route carries the packets while it lasts...
        s.handle_frame(a.c, frame_of(encode_send_packet(kRemote, data_of(10, 2))));
        CHECK(link->sent.size() == 2);
        CHECK(other->sent.empty());
        // ...then the next one takes over, silently.
        s.remove_mesh_route(kRemote, link.get());
        CHECK(a.drain().empty());
        s.handle_frame(a.c, frame_of(encode_send_packet(kRemote, data_of(10, 3))));
        CHECK(other->sent.size() == 1);
        s.remove_mesh_route(kRemote, other.get());
        auto got = a.drain();
        REQUIRE(got.size() == 1);
        CHECK(got[0] == encode_peer_gone(kRemote, PeerGoneReason::Disconnected));
    }
    SECTION("a route withdrawn by a link that never had it changes nothing") {
        FakeLink stranger;
        s.remove_mesh_route(kRemote, &stranger);
        CHECK(s.mesh_routes_of(kRemote) == 1);
        CHECK(a.drain().empty());
    }
    SECTION("a receiver that left is not told, and does not keep the key's watchers alive") {
        s.unregister_client(a.c);
        s.remove_mesh_route(kRemote, link.get());
        CHECK(s.stats().peer_gone_disconnected == 0);
    }
}

TEST_CASE("DERP mesh route and local connection of one key: PeerGone only when both are gone") {
    DerpServer s(meshed());
    Fake a(s), b(s);
    auto link = std::make_shared<FakeLink>();
    s.add_mesh_route(b.key(), link);  // b is also announced by a mesh peer (moving between nodes)
    send(s, b, a, data_of(5, 1));
    REQUIRE(a.drain().size() == 1);

    SECTION("route withdrawn first: b is still here, nothing; then b leaves: PeerGone") {
        s.remove_mesh_route(b.key(), link.get());
        CHECK(a.drain().empty());
        s.unregister_client(b.c);
        auto got = a.drain();
        REQUIRE(got.size() == 1);
        CHECK(got[0] == encode_peer_gone(b.key(), PeerGoneReason::Disconnected));
    }
    SECTION("b leaves first: still reachable through the mesh, nothing; then the route goes: PeerGone") {
        s.unregister_client(b.c);
        CHECK(a.drain().empty());
        s.remove_mesh_route(b.key(), link.get());
        auto got = a.drain();
        REQUIRE(got.size() == 1);
        CHECK(got[0] == encode_peer_gone(b.key(), PeerGoneReason::Disconnected));
    }
}
