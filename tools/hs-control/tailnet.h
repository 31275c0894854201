// hs-control's working copy of the tailnet: nodes and users in memory, the SQLite file as the
// durable log. Every change goes through here, so one place decides which clients must hear
// of it. Transport-free: streams are MapSinks, requests and replies are JSON.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <thread>

#include <nlohmann/json.hpp>

#include "common/base/ipalloc.h"
#include "common/config/config.h"
#include "common/control/mapframe.h"
#include "common/policy/engine.h"
#include "common/store/db.h"
#include "common/store/model.h"
#include "tools/hs-control/mapper.h"
#include "tools/hs-control/peer_chunks.h"

namespace hs::control {

class LoginGuard;

// Oldest client accepted: Tailscale v1.74 (capability version 106).
inline constexpr int kMinCapVer = 106;

// Where the messages of one streaming map request go. Frames arrive complete (length prefix
// and zstd); the sink writes them in order.
class MapSink {
public:
    virtual ~MapSink() = default;
    virtual void push(std::shared_ptr<const std::string> frame) = 0;
    // The server ends the stream (node deleted, logged out).
    virtual void end() = 0;
};

struct RegisterReply {
    int status = 200;
    nlohmann::json body;  // RegisterResponse when !hold
    bool hold = false;    // an interactive login: wait for auth_id to be approved
    std::string auth_id;
};

struct MapReply {
    int status = 200;
    std::string error;  // plain-text body when status != 200
    std::int64_t node_id = 0;
    bool stream = false;
    bool lite = false;
    int capver = 0;
    bool zstd = false;  // the client asked for compressed maps
    FrameParts first;   // the full map (framed) for stream and one-shot, in shared pieces
    std::string first_bytes() const { return join_parts(first); }
};

struct TailnetStats {
    std::uint64_t map_messages = 0;
    std::uint64_t map_bytes = 0;
    std::uint64_t registrations_ok = 0;
    std::uint64_t registrations_rejected = 0;
    std::uint64_t registrations_pending = 0;
    std::uint64_t logins_refused = 0;  // interactive logins over the pending limits
    double map_build_seconds = 0;
    std::uint64_t map_builds = 0;
};

// One thread only: hs-control runs every Tailnet call on its one event loop (main.cpp's
// io.run()), so nothing here locks. The thread that constructs a Tailnet owns it; the entry
// points below check that they run on it and abort otherwise, because a second thread would
// corrupt the node maps silently rather than fail.
//
// What clients hear, and when. Every change records what it did in one pending delta (see
// Delta); nothing sends on its own. Two flushes render each message once, through the mapper:
//  - at the end of every entry point below that changes something, what a client must hear at
//    once: its own new self (Node), removed peers (PeersRemoved, only to the nodes that saw
//    them), UserProfiles, DERPMap, and the allow-all maps of a dropped policy;
//  - on the tick (flush, 250 ms): peers of changed nodes get them whole (PeersChanged), their
//    patches (PeersChangedPatch) and presence (OnlineChange), and each node's view after a
//    policy change. Batching there keeps a burst of N changes at O(N) messages, not O(N^2).
class Tailnet {
public:
    Tailnet(Db& db, Config cfg, nlohmann::json derp_map);

    // Loads every user and node from the file (at start, and after the change log was pruned
    // past what we had seen).
    void load();

    // POST /machine/register. `machine_key` is the Noise peer ("mkey:..."); `peer` its address
    // ("ip:port"), named with the machine key when a registration is refused and counted in
    // the limits on pending logins. Database writes happen before any change in memory and in
    // one transaction: a busy or full file throws DbError and changes nothing.
    // A node logging in again or out gets its new self before this returns; peers hear of it on
    // the tick; a deleted ephemeral node leaves its peers' maps before this returns.
    RegisterReply register_node(const std::string& machine_key, const nlohmann::json& req, TimePoint now,
                                const std::string& peer = "");
    // For a held interactive login: the reply once approved, or nullopt while still pending.
    // A request that vanished or expired yields a fresh AuthURL reply.
    std::optional<RegisterReply> poll_auth(const std::string& auth_id, const std::string& machine_key,
                                           const nlohmann::json& req, TimePoint now, const std::string& peer = "");

    // POST /machine/map. What the client reports reaches its peers on the tick (whole, or as a
    // patch when only endpoints, disco key, home DERP or Cap moved); the node's own streams get
    // nothing unless a route election moved its routes (then its new self, before this returns).
    MapReply map_request(const std::string& machine_key, const nlohmann::json& req, TimePoint now);
    // A streaming map request starts and stops receiving deltas. The first sink of a node makes
    // it online; the last one leaving makes it offline, unless it streams to another instance
    // (nodes.online has a bit per instance: this one writes only its own).
    // Presence changes are announced by flush; a primary route moving with them reaches the
    // routers' own streams before this returns.
    void attach(std::int64_t node_id, MapSink* sink, TimePoint now);
    void detach(std::int64_t node_id, MapSink* sink, TimePoint now);
    // Announces what changed since the last call (nodes added or changed, their patches, nodes
    // that came or went) in one message to every connected node, and records presence in the
    // file in one transaction. The server calls it on every tick (250 ms): when thousands of
    // nodes join or reconnect at once, each peer gets one message per tick instead of one per
    // node, O(N) messages per tick rather than O(N^2) in all. Sends first what an entry point
    // that threw left unpublished.
    void flush(TimePoint now);
    // The current full map of node `node_id` as a message of its stream (zstd or plain), for a
    // stream whose queued updates were dropped as superseded (send_queue.h); empty when the
    // node is gone.
    FrameParts current_map(std::int64_t node_id, bool zstd, TimePoint now);
    // hs-control is exiting: streams that end now change nothing (the file is reset at exit).
    void set_stopping() { stopping_ = true; }
    // The attempt limiter pre-auth keys are checked against (null: none, as in unit tests).
    void set_login_guard(LoginGuard* g) { guard_ = g; }

    // Picks up what other processes (hs-admin) wrote: reads the change log past what was seen,
    // reloads those rows and tells the clients that must hear of them. Cheap when nothing moved.
    // Before it returns: new UserProfiles, removals, and changed nodes' own selves; peers get
    // the changed nodes on the tick, each once however many columns and routes moved.
    void sync_from_db(TimePoint now);
    // sync_from_db without the look at data_version: reads the change log whatever it says.
    // Inside a write transaction (whose lock keeps every other writer out) this makes the
    // nodes, their keys and taken addresses in memory exactly the database's, before a
    // registration picks an address or looks for the node it may be.
    void catch_up(TimePoint now);
    // sync_from_db for a request that found no node: a database that cannot be read now leaves
    // the request to be answered from memory (logged, not thrown).
    void read_other_writers(TimePoint now);

    // Several instances on one PostgreSQL database (store::claim_instance_slot): the slot whose
    // bit this instance writes in nodes.online. 0 (SQLite, unit tests) unless set before load.
    void set_instance_slot(int slot);
    int instance_slot() const { return slot_; }
    // Once a second: competes for the duties one instance does for all (route election,
    // ephemeral collection; a new elector elects at once), clears the presence bits of
    // instances that died without their exit's cleanup, and writes this instance's bits again
    // after its connection was made anew (a reaper may have cleared them meanwhile).
    void instance_duties(TimePoint now);
    bool elects_routes() const { return route_duty_; }
    bool collects_ephemeral() const { return gc_duty_; }
    // The REST API wrote through this process's own connection, whose writes SQLite's
    // data_version does not count: the next sync_from_db reads the change log all the same.
    void note_own_write() { data_version_ = -1; }
    // Deletes ephemeral nodes that have been offline longer than the configured timeout; their
    // peers hear of it before this returns. Only the instance holding the duty does; a node that
    // came back through another instance meanwhile is left alone.
    void collect_ephemeral(TimePoint now);

    // Writes that could wait (what clients report, presence) and failed because the file was
    // busy or full are kept in memory and tried again here, on every tick.
    void retry_unsaved(TimePoint now);
    // A write failed / what /health says about writes: nullopt when the last one succeeded or
    // the last failure is older than a minute.
    // After a failure, writes are not tried for a second (kept or refused at once instead):
    // each try may wait the busy timeout on the event loop.
    void note_db_failure(TimePoint now, const DbError& e);
    bool may_write(TimePoint now) const { return !retry_at_ || now >= *retry_at_; }
    std::optional<std::string> db_write_problem(TimePoint now) const;
    std::uint64_t db_write_failures() const { return db_failures_; }

    // The ACL policy in force (tailnet_policy.cpp). nullopt or blank text: every node reaches
    // every other (as headscale without a policy). A policy that does not compile, or whose
    // tests fail, is refused: the problems are returned and the last good policy stays.
    // Connected clients get what changed for them (peers, PacketFilter, SSHPolicy) on the
    // next flush; routes it approves reach the routers' own streams at once. Dropping the
    // policy sends every streaming node all its peers and the allow-all filter at once.
    // `enforce_tests` false (at start): failing policy tests are logged, not refused.
    std::vector<policy::Problem> set_policy(std::optional<std::string> text, bool enforce_tests = true);
    bool has_policy() const { return policy_ != nullptr; }
    std::uint64_t policy_reload_errors() const { return policy_reload_errors_; }
    void count_policy_reload_error() { ++policy_reload_errors_; }

    // Connected clients get a changed map before this returns.
    void set_derp_map(nlohmann::json derp_map);
    const std::string& derp_map_json() const { return derp_map_json_; }

    // DERP admission: the key belongs to a node of this tailnet whose key has not expired.
    bool admits_node_key(const std::string& node_key, TimePoint now) const;

    std::size_t node_count() const { return nodes_.size(); }
    std::size_t online_count() const;
    const TailnetStats& stats() const { return stats_; }
    const Config& config() const { return cfg_; }
    // The framed {"KeepAlive":true} every sink sends after a quiet minute.
    std::shared_ptr<const std::string> keepalive_frame() const { return keepalive_; }

private:
    struct Live {
        Node rec;
        int capver = 0;
        std::string peer_json;  // node_json(self=false), cached: full maps are concatenations
        std::vector<MapSink*> sinks;
        std::uint64_t remote_slots = 0;          // the other instances it streams to (nodes.online's bits)
        std::optional<TimePoint> offline_since;  // when it went offline everywhere
        std::vector<std::string> served;         // approved and advertised routes
        bool routed_online = false;              // `online` as the last primary election saw it
        RouteView routes;
        // What the policy let this node's streams see last (nullopt: no policy was in force
        // when they got their map, so every peer and the allow-all filter).
        std::optional<policy::NodeView> view;
        std::uint64_t view_generation = 0;  // policy_generation_ when `view` was computed
        // The node as the policy compiler saw it last: only a change here needs a new compile
        // (endpoints, presence and the like do not).
        policy::Node policy_in;
    };

    // What changed since the last flushes and who must hear of it (see the class comment).
    struct Delta {
        // On the tick (flush):
        std::set<std::int64_t> changed;                  // nodes their peers get whole
        std::map<std::int64_t, nlohmann::json> patches;  // PeerChange by node, merged
        std::map<std::int64_t, bool> presence;           // node -> online
        bool views = false;  // the policy was replaced: every streaming node needs its view again
        // At the end of the entry point (publish):
        // Nodes whose own streams get their new self. A node that caused the change by its own
        // report is not here (it knows; Tell::Peers) unless a route election moved its routes.
        std::set<std::int64_t> selves;
        std::set<std::int64_t> removed;  // deleted nodes, to the nodes that saw them
        bool profiles = false;           // UserProfiles changed
        bool derp_map = false;
        bool drop_views = false;  // no policy any more: each node that had a view gets everything back
        // Nodes whose own streams get a whole new map: an approval (auth.device_approval) gives
        // a node all its peers at once, which no delta of the allow-all path carries.
        std::set<std::int64_t> maps;
    };

    // --- policy (tailnet_policy.cpp) ---
    // Compiles again when nodes, users or routes changed since the last compile, then lets
    // autoApprovers approve what nodes announce (which compiles once more if it approved any).
    void ensure_policy();
    // Adds the routes autoApprovers allow to each node's approved routes (never removes any:
    // that is an admin's); true when any node changed. The file is written first: a route
    // that cannot be recorded is not approved, and the next compile tries again.
    bool auto_approve(TimePoint now);
    // Hostinfo.RequestTags of a user's node registering (`--advertise-tags`): into `tags`
    // when the policy lets the user own them all; else Tailscale's refusal for the client.
    std::optional<std::string> grant_requested_tags(std::optional<std::int64_t> user_id, const nlohmann::json& req,
                                                    std::vector<std::string>& tags);
    static policy::Node policy_node(const Live& l);
    // The peer `id` as `v` shows it, or null when `v` does not see it (peers are sorted by ID).
    static const policy::PeerView* seen_in(const policy::NodeView& v, std::int64_t id);
    // policy.mode database: the newest stored policy. At start (`at_start`), one that does not
    // compile stops the server rather than leaving the tailnet open.
    void load_stored_policy(bool at_start);
    // The node's view under the policy in force; nullopt without a policy.
    std::optional<policy::NodeView> policy_view(Live& l);
    std::vector<policy::User> policy_users() const;
    std::vector<policy::Node> policy_nodes() const;
    // `peer` as `viewer` sees it: its AllowedIPs and CapMap as the policy gives them.
    std::string peer_json_for(const policy::PeerView& pv, const Live& peer, TimePoint now) const;
    // Whether `peer` may appear in `viewer`'s map at all: a node auth.device_approval holds back
    // sees no peer and is no one's peer (the policy, when there is one, never compiles it in).
    static bool may_see(const Live& viewer, const Live& peer) {
        return viewer.rec.approved && peer.rec.approved && viewer.rec.id != peer.rec.id;
    }
    // MapResponse.Health for the node's full maps: why it has no peers while it waits for approval
    // ([] once approved, which clears what an earlier map said), empty text for nothing to say.
    std::string health_json(const Live& l) const;
    // The node's own tailcfg.Node with the policy's CapMap merged in.
    std::string self_json(const Live& l, TimePoint now) const;
    // flush with a policy in force: each connected node hears what changed in its own view,
    // and only about the nodes it may see.
    void flush_with_policy(const Delta& d, TimePoint now);
    std::string view_delta(Live& l, policy::NodeView nv, const std::set<std::int64_t>& changed, TimePoint now);
    // The same compile as the node's last view: only the changed peers it sees are news.
    std::string changed_peers_delta(const Live& l, const std::set<std::int64_t>& changed, TimePoint now) const;
    // No policy any more (Delta::drop_views, from publish): every streaming node that had a view
    // gets every peer and the allow-all filter back.
    void drop_policy(TimePoint now);

    // --- the change path (tailnet_change.cpp) ---
    // What a change is news to.
    enum class Tell {
        Nobody,     // only what the route election moves goes out (load)
        Everyone,   // the node whole: its own streams at once, its peers on the tick
        IfVisible,  // as Everyone, but only when what peers see of the node changed (an admin's edit)
        Peers,      // whole to its peers only: the node reported it itself
        Patch,      // How::patch to its peers on the tick, merged with earlier ones
        Presence,   // online/offline to its peers on the tick, recorded in the file then
    };
    // The columns a change writes, never a whole row: an admin may have edited the others in
    // the file since we last read it.
    enum class Write {
        None,
        ClientReport,  // after memory changes; a busy or full file keeps it for retry_unsaved
        // These three before memory changes: a failed write throws and changes nothing.
        Login,
        Expiry,
        ApprovedRoutes,
        PrimaryRoutes,  // a record for hs-admin only: a failure is logged, the change goes on
    };
    struct How {
        Write write = Write::None;
        Tell tell = Tell::Everyone;
        nlohmann::json patch = nullptr;  // Tell::Patch: a PeerChange with NodeID
        Db::Tx* tx = nullptr;            // the write joins this transaction, and commits it
    };
    // The one way a node's record changes: `next` replaces it after the columns how.write names
    // are written; then the node is rendered for peers again, primary routes re-elected when its
    // routes or liveness as a router moved, and what happened recorded in pending_ as how.tell
    // says (the election records the nodes it moves, this one included, as Tell::Everyone).
    // A change of `approved` is news to everyone whatever how.tell says: the node's peers get it
    // on the tick (or lose it), the node itself a whole new map at once, and the policy is
    // compiled again with it (or without it).
    void change(Live& l, Node next, TimePoint now, const How& how);
    // A node new to nodes_ (registered, loaded, or added by hs-admin), indexed and rendered as
    // change() would, then recorded as `tell` says.
    Live& add_node(Node n, TimePoint now, Tell tell);
    // Deletes the row first when `delete_row` (a failure throws and removes nothing); ends the
    // node's streams, records the removal and hands its routes to other routers.
    void remove_node(std::int64_t id, TimePoint now, bool delete_row);
    // change()'s tail: election, rendering, record. `before` is the node's peer_json before.
    void settle(Live& l, TimePoint now, const How& how, const std::string& before);
    void write(const Node& next, TimePoint now, const How& how);
    // The node as peers see it (peer_json), from its record and route view as they are.
    void render(Live& l, TimePoint now);
    // Sends what must go out at once (the second part of Delta). Every entry point that changes
    // something calls it before it returns; flush calls it too, for whatever an entry point that
    // threw left behind.
    void publish(TimePoint now);
    // PeersRemoved: to every streaming node without a policy, else to those whose view had them.
    void send_removed(const std::set<std::int64_t>& removed);
    // Writes this instance's bit of each node in unsaved_presence_ in one transaction; what fails
    // stays there for retry_unsaved.
    void record_presence(TimePoint now);
    // Both halves of unsaved_presence_ (bit set, bit cleared) in two statements, inside the
    // caller's transaction.
    void write_presence(TimePoint now);
    // flush's PeersChangedPatch messages.
    void send_patches(const std::map<std::int64_t, const nlohmann::json*>& patch_of);
    void push(Live& l, std::shared_ptr<const std::string> frame);
    // `m` to every streaming node, rendered and compressed once.
    void push_all(const DeltaMessage& m);
    std::shared_ptr<const std::string> frame(const std::string& json);

    // --- routes (tailnet_routes.cpp) ---
    // True when the node's served routes, or its liveness as a router, differ from the last election.
    bool track_routes(Live& l);
    // Elects primaries again; each node whose routes moved, `watch` (the node whose change
    // started it) included, changes through change() as Tell::Everyone.
    void reroute(TimePoint now, std::int64_t watch = 0);
    void forget_router(std::int64_t id, TimePoint now);
    // An instance that does not elect serves the primaries the elector recorded in the rows.
    std::map<std::string, std::int64_t> recorded_primaries() const;

    // --- tailnet.cpp ---
    void reload_users();
    // A user created moments ago by hs-admin may not be loaded yet: load it; connected clients
    // get the new profiles before any node of that user reaches them (publish sends profiles
    // before selves, peers go on the tick).
    void ensure_user(std::optional<std::int64_t> user_id);
    // The indexes kept beside nodes_: node key, machine key, taken addresses.
    void index(const Live& l);
    void unindex(const Live& l);
    // Full maps record in self.view what the policy let the node see.
    std::string full_map(Live& self, TimePoint now);
    // The same map framed and compressed, from the shared pieces of chunks_.
    FrameParts full_map_frame(Live& self, TimePoint now);
    // The full map as the client asked for it (zstd or plain), counted in the stats.
    FrameParts map_message(Live& self, bool zstd, TimePoint now);
    // One row of sync_from_db: the node added, changed or removed as the file has it now.
    void sync_node(std::int64_t id, TimePoint now);
    // The PeerChange telling peers what moved from `was` to `now` (a client's own report, or a
    // node of another instance read back from the database), when only what a client reports as
    // a patch moved: endpoints, disco key, NetInfo (of which peers hear the home DERP). nullopt
    // when anything else did.
    static std::optional<nlohmann::json> report_patch(const Node& was, const Node& now);
    // What a map request reports (endpoints, disco key, Hostinfo, capability version), applied
    // through change().
    void apply_report(Live& l, const nlohmann::json& req, int capver, TimePoint now);

    // --- registration helpers (register.cpp) ---
    RegisterReply success(const Live& l) const;
    // register_node and poll_auth before they publish what they changed.
    RegisterReply handle_register(const std::string& machine_key, const nlohmann::json& req, TimePoint now,
                                  const std::string& peer);
    std::optional<RegisterReply> handle_poll_auth(const std::string& auth_id, const std::string& machine_key,
                                                  const nlohmann::json& req, TimePoint now, const std::string& peer);
    // A logout (expiry in the past): an ephemeral node is deleted, another expires now.
    RegisterReply logout(Live& l, TimePoint now);
    // Writes the node within `tx` and commits before anything changes in memory.
    RegisterReply complete_registration(const std::string& machine_key, const nlohmann::json& req,
                                        std::optional<std::int64_t> user_id, std::vector<std::string> tags,
                                        std::optional<std::int64_t> auth_key_id, bool ephemeral,
                                        const std::string& method, Db::Tx& tx, TimePoint now);
    RegisterReply register_with_key(const std::string& machine_key, const nlohmann::json& req,
                                    const std::string& auth_key, Live* current, TimePoint now, const std::string& peer);
    // The limiter's verdict on a pre-auth key before it is used: an error reply for a throttled
    // source, a locked key or a wrong key (counted), nullopt when the key may be used.
    std::optional<RegisterReply> guard_preauth_key(const std::string& machine_key, const nlohmann::json& req,
                                                   const std::string& auth_key, TimePoint now, const std::string& peer);
    RegisterReply start_interactive(const std::string& machine_key, const nlohmann::json& req, TimePoint now,
                                    const std::string& peer);
    std::string auth_url(const std::string& id) const;

    Live* by_node_key(const std::string& key);

    Db& db_;
    Config cfg_;
    LoginGuard* guard_ = nullptr;
    MapSettings settings_;
    std::map<std::int64_t, Live> nodes_;  // ordered: peers go out sorted by ID
    std::unordered_map<std::string, std::int64_t> by_node_key_;
    std::unordered_multimap<std::string, std::int64_t> by_machine_key_;
    AddressPools pools_;  // addresses of nodes_ in the configured prefixes
    PeerChunks chunks_;   // every change of a peer_json, or of nodes_, invalidates its piece
    std::unordered_map<std::int64_t, User> users_;
    std::string derp_map_json_;
    std::string dns_json_;
    std::string profiles_json_;
    std::shared_ptr<const std::string> keepalive_;
    Delta pending_;  // not yet sent
    bool stopping_ = false;
    std::set<std::int64_t> routers_;                                // nodes that serve at least one route
    std::map<std::string, std::int64_t> primaries_;                 // subnet prefix -> primary router
    std::set<std::int64_t> unsaved_reports_;                        // client reports not yet in the file
    std::set<std::int64_t> unsaved_presence_;                       // our presence bit not yet in the file
    std::map<std::string, std::vector<TimePoint>> pending_logins_;  // source -> expiry of each
    std::uint64_t db_failures_ = 0;
    std::optional<TimePoint> last_db_failure_, retry_at_;
    bool last_db_failure_busy_ = false;  // DbBusy: check_writable throws DbBusy until retry_at_
    // Throws DbError when writes are paused after a failure (see may_write).
    void check_writable(TimePoint now) const;
    std::string last_db_error_;
    std::optional<std::string> policy_text_;
    std::shared_ptr<const policy::Compiled> policy_;
    std::uint64_t policy_generation_ = 0;  // counts replacements of policy_: views older than it are recomputed
    bool policy_dirty_ = false;            // nodes, users or routes changed since the last compile
    std::uint64_t policy_reload_errors_ = 0;
    std::int64_t change_seq_ = 0;
    std::thread::id owner_ = std::this_thread::get_id();
    // Aborts when called off the owning thread (see the class comment).
    void on_owner_thread() const;
    std::int64_t data_version_ = -1;
    TailnetStats stats_;
    int slot_ = 0;
    std::uint64_t my_bit_ = 1;  // this instance's bit of nodes.online
    bool route_duty_ = true, gc_duty_ = true;
    std::uint64_t session_generation_ = 0;
};

// Hostinfo.NetInfo.PreferredDERP, the node's home DERP region; 0 when it names none.
int preferred_derp(const nlohmann::json& host_info);

// Parses "nodekey:..."-style text in a request; nullopt when missing, malformed or zero.
std::optional<std::string> request_key(const nlohmann::json& req, const char* field, std::string_view prefix);

}  // namespace hs::control
