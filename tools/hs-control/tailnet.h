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

#include "common/config/config.h"
#include "common/policy/engine.h"
#include "common/store/db.h"
#include "common/base/ipalloc.h"
#include "common/store/model.h"
#include "tools/hs-control/mapper.h"
#include "tools/hs-control/peer_chunks.h"

namespace hs::control {

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
    std::shared_ptr<const std::string> first;  // the full map (framed) for stream and one-shot
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
    RegisterReply register_node(const std::string& machine_key, const nlohmann::json& req, TimePoint now,
                                const std::string& peer = "");
    // For a held interactive login: the reply once approved, or nullopt while still pending.
    // A request that vanished or expired yields a fresh AuthURL reply.
    std::optional<RegisterReply> poll_auth(const std::string& auth_id, const std::string& machine_key,
                                           const nlohmann::json& req, TimePoint now, const std::string& peer = "");

    // POST /machine/map.
    MapReply map_request(const std::string& machine_key, const nlohmann::json& req, TimePoint now);
    // A streaming map request starts and stops receiving deltas. The first sink of a node makes
    // it online; the last one leaving makes it offline.
    // Presence changes are collected and announced by flush.
    void attach(std::int64_t node_id, MapSink* sink, TimePoint now);
    void detach(std::int64_t node_id, MapSink* sink, TimePoint now);
    // Announces what changed since the last call (nodes added or changed, their patches, nodes
    // that came or went) in one message to every connected node, and records presence in the
    // file in one transaction. The server calls it on every tick (250 ms): when thousands of
    // nodes join or reconnect at once, each peer gets one message per tick instead of one per
    // node, O(N) messages per tick rather than O(N^2) in all.
    void flush(TimePoint now);
    // hs-control is exiting: streams that end now change nothing (the file is reset at exit).
    void set_stopping() { stopping_ = true; }

    // Picks up what other processes (hs-admin) wrote: reads the change log past what was seen,
    // reloads those rows and tells the clients that must hear of them. Cheap when nothing moved.
    void sync_from_db(TimePoint now);
    // Deletes ephemeral nodes that have been offline longer than the configured timeout.
    void collect_ephemeral(TimePoint now);

    // Writes that could wait (what clients report, presence) and failed because the file was
    // busy or full are kept in memory and tried again here, on every tick.
    void retry_unsaved(TimePoint now);
    // A write failed / what /health says about writes: nullopt when the last one succeeded or
    // the last failure is older than a minute.
    // After a failure, writes are not tried for a second (kept or refused at once instead):
    // each try may wait the busy timeout on the event loop.
    void note_db_failure(TimePoint now, const std::string& what);
    bool may_write(TimePoint now) const { return !retry_at_ || now >= *retry_at_; }
    std::optional<std::string> db_write_problem(TimePoint now) const;
    std::uint64_t db_write_failures() const { return db_failures_; }

    // The ACL policy in force (tailnet_policy.cpp). nullopt or blank text: every node reaches
    // every other (as headscale without a policy). A policy that does not compile, or whose
    // tests fail, is refused: the problems are returned and the last good policy stays.
    // Connected clients get what changed for them (peers, PacketFilter, SSHPolicy) on the
    // next flush.
    // `enforce_tests` false (at start): failing policy tests are logged, not refused.
    std::vector<policy::Problem> set_policy(std::optional<std::string> text, bool enforce_tests = true);
    bool has_policy() const { return policy_ != nullptr; }
    std::uint64_t policy_reload_errors() const { return policy_reload_errors_; }
    void count_policy_reload_error() { ++policy_reload_errors_; }

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
        std::optional<TimePoint> offline_since;
        std::vector<std::string> served;  // approved and advertised routes
        bool routed_online = false;       // `online` as the last primary election saw it
        RouteView routes;
        // What the policy let this node's streams see last (nullopt: no policy was in force
        // when they got their map, so every peer and the allow-all filter).
        std::optional<policy::NodeView> view;
        std::uint64_t view_generation = 0;  // policy_generation_ when `view` was computed
        // The node as the policy compiler saw it last: only a change here needs a new compile
        // (endpoints, presence and the like do not).
        policy::Node policy_in;
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
    // policy.mode database: the newest stored policy. At start (`at_start`), one that does not
    // compile stops the server rather than leaving the tailnet open.
    void load_stored_policy(bool at_start);
    // The node's view under the policy in force; nullopt without a policy.
    std::optional<policy::NodeView> policy_view(Live& l);
    std::vector<policy::User> policy_users() const;
    std::vector<policy::Node> policy_nodes() const;
    // `peer` as `viewer` sees it: its AllowedIPs and CapMap as the policy gives them.
    std::string peer_json_for(const policy::PeerView& pv, const Live& peer, TimePoint now) const;
    // The node's own tailcfg.Node with the policy's CapMap merged in.
    std::string self_json(const Live& l, TimePoint now) const;
    // flush with a policy in force: each connected node hears what changed in its own view,
    // and only about the nodes it may see.
    void flush_with_policy(const std::set<std::int64_t>& changed, const std::map<std::int64_t, nlohmann::json>& patches,
                           const std::map<std::int64_t, bool>& presence, TimePoint now);
    std::string view_delta(Live& l, policy::NodeView nv, const std::set<std::int64_t>& changed, TimePoint now);
    // The same compile as the node's last view: only the changed peers it sees are news.
    std::string changed_peers_delta(const Live& l, const std::set<std::int64_t>& changed, TimePoint now) const;
    // No policy any more: every streaming node gets every peer and the allow-all filter back.
    void drop_policy(TimePoint now);

    // --- state changes (tailnet.cpp) ---
    Live& add_node(Node n);
    // Re-renders the node for peers after its record changed; re-elects primary routes first
    // when the change touches them. True when that election already sent the node, as it is
    // now, to everyone (its routes moved): the caller need not send it again.
    bool refresh(Live& l, TimePoint now);
    // refresh, then the node to everyone unless the election did.
    void refresh_and_announce(Live& l, TimePoint now);
    // The node as peers see it (peer_json), from its record and route view as they are.
    void render(Live& l, TimePoint now);
    // --- routes (tailnet_routes.cpp) ---
    // True when the node's served routes, or its liveness as a router, differ from the last election.
    bool track_routes(Live& l);
    // Elects primaries again and sends the nodes whose routes moved to everyone, `watch` (the
    // node whose change started it) included; true when `watch` was one of them.
    bool reroute(TimePoint now, std::int64_t watch = 0);
    void forget_router(std::int64_t id, TimePoint now);
    void remove_node(std::int64_t id, TimePoint now);
    void reload_users();
    // A user created moments ago by hs-admin may not be loaded yet: load it, and send the new
    // profile to connected clients before any node of that user reaches them.
    void ensure_user(std::optional<std::int64_t> user_id);
    // The node's new self to its own streams now; the node to its peers on the next flush.
    void broadcast_changed(const Live& l, TimePoint now);
    // The fields of `patch` (a PeerChange with NodeID) to peers on the next flush, merged with
    // any earlier patch of the same node.
    void queue_patch(std::int64_t id, const nlohmann::json& patch);
    // flush's PeersChanged message for one recipient: every queued node but `except` (a client
    // would take itself for a peer). Empty when that leaves none.
    static std::string peers_changed_text(const std::vector<const Live*>& whole, std::int64_t except);
    void record_presence(const std::map<std::int64_t, bool>& changes);
    // flush's PeersChangedPatch messages.
    void send_patches(const std::map<std::int64_t, const nlohmann::json*>& patch_of);
    // The indexes kept beside nodes_: node key, machine key, taken addresses.
    void index(const Live& l);
    void unindex(const Live& l);
    void broadcast_removed(std::int64_t id);
    void push(Live& l, std::shared_ptr<const std::string> frame);
    std::shared_ptr<const std::string> frame(const std::string& json);
    // Full maps record in self.view what the policy let the node see.
    std::string full_map(Live& self, TimePoint now);
    // The same map framed and compressed, from the shared pieces of chunks_.
    std::string full_map_frame(Live& self, TimePoint now);
    // Writes only the columns `what` changes, never a whole row: an admin may have edited the
    // others in the file since we last read it.
    enum class Write { ClientReport, Login, Expiry };
    void persist(Live& l, TimePoint now, Write what);
    // persist for what may wait: a failure leaves the node in unsaved_reports_ for retry_unsaved.
    void persist_later(Live& l, TimePoint now);

    // --- registration helpers (register.cpp) ---
    RegisterReply success(const Live& l) const;
    // Writes the node within `tx` and commits before anything changes in memory.
    RegisterReply complete_registration(const std::string& machine_key, const nlohmann::json& req,
                                        std::optional<std::int64_t> user_id, std::vector<std::string> tags,
                                        std::optional<std::int64_t> auth_key_id, bool ephemeral,
                                        const std::string& method, Db::Tx& tx, TimePoint now);
    RegisterReply register_with_key(const std::string& machine_key, const nlohmann::json& req, const std::string& auth_key,
                                    Live* current, TimePoint now, const std::string& peer);
    RegisterReply start_interactive(const std::string& machine_key, const nlohmann::json& req, TimePoint now,
                                    const std::string& peer);
    std::string auth_url(const std::string& id) const;

    Live* by_node_key(const std::string& key);

    Db& db_;
    Config cfg_;
    MapSettings settings_;
    std::map<std::int64_t, Live> nodes_;  // ordered: peers go out sorted by ID
    std::unordered_map<std::string, std::int64_t> by_node_key_;
    std::unordered_multimap<std::string, std::int64_t> by_machine_key_;
    AddressPools pools_;  // addresses of nodes_ in the configured prefixes
    PeerChunks chunks_;  // every change of a peer_json, or of nodes_, invalidates its piece
    std::unordered_map<std::int64_t, User> users_;
    std::string derp_map_json_;
    std::string dns_json_;
    std::string profiles_json_;
    std::shared_ptr<const std::string> keepalive_;
    // Not yet announced (flush): node -> online; nodes peers get whole; patches by node.
    std::map<std::int64_t, bool> presence_;
    std::set<std::int64_t> changed_;
    std::map<std::int64_t, nlohmann::json> patches_;
    bool stopping_ = false;
    std::set<std::int64_t> routers_;                 // nodes that serve at least one route
    std::map<std::string, std::int64_t> primaries_;  // subnet prefix -> primary router
    std::set<std::int64_t> unsaved_reports_;   // client reports not yet in the file
    std::set<std::int64_t> unsaved_presence_;  // online/last_seen not yet in the file
    std::map<std::string, std::vector<TimePoint>> pending_logins_;  // source -> expiry of each
    std::uint64_t db_failures_ = 0;
    std::optional<TimePoint> last_db_failure_, retry_at_;
    // Throws DbError when writes are paused after a failure (see may_write).
    void check_writable(TimePoint now) const;
    std::string last_db_error_;
    std::optional<std::string> policy_text_;
    std::shared_ptr<const policy::Compiled> policy_;
    std::uint64_t policy_generation_ = 0;  // counts replacements of policy_: views older than it are recomputed
    bool policy_dirty_ = false;  // nodes, users or routes changed since the last compile
    bool views_stale_ = false;   // the policy changed: every streaming node needs its view again
    std::uint64_t policy_reload_errors_ = 0;
    std::int64_t change_seq_ = 0;
    std::thread::id owner_ = std::this_thread::get_id();
    // Aborts when called off the owning thread (see the class comment).
    void on_owner_thread() const;
    std::int64_t data_version_ = -1;
    TailnetStats stats_;
};

// Parses "nodekey:..."-style text in a request; nullopt when missing, malformed or zero.
std::optional<std::string> request_key(const nlohmann::json& req, const char* field, std::string_view prefix);

}  // namespace hs::control
