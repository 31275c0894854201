// Reads and writes of the tailnet's records in the shared SQLite file. Every function is one
// short transaction (or a single statement), so hs-admin and hs-control can work on the same
// file at once. Invalid arguments throw StoreError with a message meant for the user.
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/store/db.h"
#include "common/store/model.h"

namespace hs::store {

struct StoreError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// A lookup found nothing: "user \"bob\" not found".
struct NotFound : StoreError {
    using StoreError::StoreError;
};

// --- users ---------------------------------------------------------------------------------
// Names: 2-63 characters, starting with a letter; letters, digits, '-', '.', '_' and at most
// one '@' (so e-mail style names work). Unique among local users.
void validate_user_name(std::string_view name);
// `picture_url`: the profile picture clients show (headscale's users create -p); empty or an
// http(s) URL without spaces, else StoreError.
User create_user(Db& db, const std::string& name, const std::string& display_name = "", const std::string& email = "",
                 const std::string& picture_url = "");
std::vector<User> list_users(Db& db);
std::optional<User> find_user(Db& db, std::int64_t id);
std::optional<User> find_user_by_name(Db& db, std::string_view name);
// By numeric ID when `ref` is all digits and such a user exists, else by name. Throws NotFound.
User resolve_user(Db& db, std::string_view ref);
void rename_user(Db& db, std::int64_t id, const std::string& new_name);
// Deletes the user and (by cascade) its pre-auth keys and pending logins. Refuses while the
// user still owns nodes.
void delete_user(Db& db, std::int64_t id);
// A user who signs in through OpenID Connect, found by `u.provider_identifier` (<issuer>/<sub>)
// and created on the first login; name, display name, e-mail and picture are refreshed on every
// login (the groups too) and provider is set to "oidc". Returns the stored row.
User upsert_oidc_user(Db& db, const User& u);

// Tags look like "tag:name": lower-case letters, digits, '-' or '_'. Throws StoreError.
void validate_tag(const std::string& tag);

// --- pre-auth keys -------------------------------------------------------------------------
struct NewPreAuthKey {
    PreAuthKey key;
    std::string secret;  // the full "hskey-auth-<prefix>-<secret>"; shown once, never stored
};
// Tags must look like "tag:name" (lower case, no spaces); they are sorted and de-duplicated.
// A key belongs to a user, or is tagged, or both.
NewPreAuthKey create_preauth_key(Db& db, std::optional<std::int64_t> user_id, bool reusable, bool ephemeral,
                                 std::optional<TimePoint> expiration, std::vector<std::string> tags);
std::vector<PreAuthKey> list_preauth_keys(Db& db);
std::optional<PreAuthKey> find_preauth_key(Db& db, std::int64_t id);
// Finds the key whose full text is `text` (hash compared in constant time). nullopt when the
// text is malformed or no key matches; it does not judge expiry or use. Besides hs's own
// "hskey-auth-..." keys it finds keys imported from headscale: plaintext ones (before 0.28)
// by legacy_preauth_prefix, and bcrypt-hashed ones by their prefix.
std::optional<PreAuthKey> lookup_preauth_key(Db& db, std::string_view text);
// The prefix column of an imported plaintext headscale key: "legacy-" and 16 hex digits of its
// SHA-256 (the hash column holds the whole SHA-256), so the row is found without the key stored.
std::string legacy_preauth_prefix(std::string_view key);
void expire_preauth_key(Db& db, std::int64_t id, TimePoint now);
void delete_preauth_key(Db& db, std::int64_t id);
// Marks a single-use key used; false if it was used already (another registration won).
bool claim_preauth_key(Db& db, std::int64_t id);
// The prefix column a presented key would be found by (see lookup_preauth_key), without any
// lookup; nullopt when the text cannot be a key.
std::optional<std::string> preauth_key_prefix(std::string_view text);
// By the prefix as listed ("hskey-auth-<prefix>-***") or bare.
std::optional<PreAuthKey> find_preauth_key_by_prefix(Db& db, std::string_view prefix);
// "hskey-auth-<prefix>-***": what listings show instead of the secret.
std::string masked_preauth_key(const PreAuthKey& k);

// --- API keys (apikeys.cpp) ----------------------------------------------------------
struct ApiKey {
    std::int64_t id = 0;
    std::string prefix;  // public part: hskey-api-<prefix>-***
    std::optional<TimePoint> expiration;
    std::optional<TimePoint> last_seen;
    TimePoint created_at{};

    bool expired(TimePoint now) const { return expiration && *expiration <= now; }
};
struct NewApiKey {
    ApiKey key;
    std::string secret;  // "hskey-api-<prefix>-<64 hex>", shown once; only its hash is stored
};
NewApiKey create_api_key(Db& db, std::optional<TimePoint> expiration);
std::vector<ApiKey> list_api_keys(Db& db);
std::optional<ApiKey> find_api_key(Db& db, std::int64_t id);
// By the prefix as listed ("hskey-api-<prefix>-***") or bare.
std::optional<ApiKey> find_api_key_by_prefix(Db& db, std::string_view prefix);
void expire_api_key(Db& db, std::int64_t id, TimePoint now);
void delete_api_key(Db& db, std::int64_t id);
// The key whose full text is `text`, if it exists and has not expired (hash compared in
// constant time); nullopt otherwise. Does not write. headscale's keys, imported with their
// bcrypt hashes, work in both its forms: "hskey-api-<12>-<64>" and "<7>.<secret>" (pre-0.28).
std::optional<ApiKey> authenticate_api_key(Db& db, std::string_view text, TimePoint now);
std::string masked_api_key(const ApiKey& k);
// Records that key `id` was used at `now` (its last_seen column only).
void touch_api_key(Db& db, std::int64_t id, TimePoint now);
// Why authenticate_api_key refused `text`, for the log: `reason` is one of a fixed few
// ("malformed API key", "unknown API key", "expired API key", "wrong API key secret"); `key`
// names the key tried by its public prefix (and id when it exists), never the secret.
struct ApiKeyRefusal {
    const char* reason;
    std::string key;
};
ApiKeyRefusal explain_api_key_refusal(Db& db, std::string_view text, TimePoint now);

// The key part of a presented API key ("hskey-api-<prefix>-..." or headscale's "<7>.<secret>"),
// without any lookup; nullopt when the text has neither form.
std::optional<std::string> api_key_prefix(std::string_view text);

// --- sign-in lockouts (signin_locks.cpp): the per-key state of the attempt limiter ----------
struct SigninLock {
    std::string key;  // "preauthkey:<prefix>", "apikey:<prefix>", "user:<name>"
    int failures = 0;
    TimePoint window_start{};
    int lockouts = 0;
    std::optional<TimePoint> locked_until;
};
std::optional<SigninLock> find_signin_lock(Db& db, std::string_view key);
// Inserts or replaces the row for `l.key`.
void save_signin_lock(Db& db, const SigninLock& l, TimePoint now);
// Forgets `key` (an admin's unlock); false when there was no row.
bool delete_signin_lock(Db& db, std::string_view key);
// Every row, by key.
std::vector<SigninLock> list_signin_locks(Db& db);
// Rows whose lock lasts past `now`.
std::int64_t count_signin_locked(Db& db, TimePoint now);

// --- policies (policy.cpp) -----------------------------------------------------------
struct StoredPolicy {
    std::int64_t id = 0;
    std::string data;  // the HuJSON text as given
    TimePoint created_at{};
};
// The active policy: the row with the highest id.
std::optional<StoredPolicy> latest_policy(Db& db);
StoredPolicy insert_policy(Db& db, const std::string& data);

// A cheap read of the users table, for health checks: throws DbError when the file cannot be
// read.
void probe_readable(Db& db);

// --- nodes ---------------------------------------------------------------------------------
std::vector<Node> list_nodes(Db& db);
// The same rows one at a time, in ID order, without holding them all.
void each_node(Db& db, const std::function<void(Node&&)>& fn);
std::optional<Node> find_node(Db& db, std::int64_t id);
std::optional<Node> find_node_by_node_key(Db& db, std::string_view node_key);
// The node of a machine (a machine holds one node at a time); nullopt when it has none.
std::optional<Node> find_node_by_machine_key(Db& db, std::string_view machine_key);
// Every node's key and expiry as stored ("" for no expiry), unparsed: hs-derper's client
// verification judges each row on its own, so one malformed row cannot hide the others.
struct NodeKeyRow {
    std::string node_key;
    std::string expiry;
};
std::vector<NodeKeyRow> node_keys(Db& db);
// Inserts `n` and returns it with its new id; `keep_id` inserts it under n.id instead (an
// import keeps the clients' node IDs).
Node insert_node(Db& db, Node n, bool keep_id = false);
// Writes every column of `n` (matched by id). Throws NotFound if the row is gone.
void update_node(Db& db, const Node& n);
void delete_node(Db& db, std::int64_t id);
// Only the liveness columns, so a session coming or going never rewrites a row an admin edits:
// sets (`online`) or clears the instance's bit `instance_bit` of nodes.online for each node of
// `ids`, whatever the other instances' bits are, and their last_seen to `now`.
void set_nodes_presence(Db& db, const std::vector<std::int64_t>& ids, std::uint64_t instance_bit, bool online,
                        TimePoint now);
// Deletes the node only while no instance has it online (an ephemeral node's collection must
// not delete one that came back through another instance); false when it did not.
bool delete_node_if_offline(Db& db, std::int64_t id);
// The prefixes the node is primary router for (hs-control's election); its column only.
void set_node_primary_routes(Db& db, std::int64_t id, const std::vector<std::string>& routes);

// Narrow setters for admin edits (node_fields.cpp): each writes only its columns and
// updated_at, so a concurrent whole-row write of other columns by hs-control is not undone.
// Each throws NotFound when the node is gone; the nodes_upd trigger logs the change.
void set_node_approved_routes(Db& db, std::int64_t id, const std::vector<std::string>& routes);
void set_node_user(Db& db, std::int64_t id, std::optional<std::int64_t> user_id);
// Tags and owner together: tagging a user's node makes it a tagged node without an owner.
void set_node_tags(Db& db, std::int64_t id, const std::vector<std::string>& tags, std::optional<std::int64_t> user_id);
void set_node_given_name(Db& db, std::int64_t id, const std::string& given_name);
void set_node_expiry(Db& db, std::int64_t id, std::optional<TimePoint> expiry);
// auth.device_approval: whether the node's peers may see it.
void set_node_approved(Db& db, std::int64_t id, bool approved);
void set_node_ips(Db& db, std::int64_t id, const std::optional<std::string>& ipv4,
                  const std::optional<std::string>& ipv6);
// hs-control's writes: what a client reports in its map requests (disco key, endpoints,
// Hostinfo, hostname), and what a login sets (node key, owner, tags, expiry, how and with which
// key). Neither touches the admin's columns (given name, approved routes, addresses).
void set_node_client_report(Db& db, const Node& n);
void set_node_login(Db& db, const Node& n);

// A DNS label from a client hostname: lower case, [a-z0-9-], at most 63, no leading or
// trailing '-'; "node" when nothing is left.
std::string dns_label(std::string_view hostname);
// Checks a name an admin asks for: a valid DNS label as above, unchanged by dns_label.
void validate_given_name(std::string_view name);
// `base` made unique among the nodes' given names (ignoring node `except`): base, base-1, ...
std::string unique_given_name(Db& db, const std::string& base, std::int64_t except = 0);

// --- interactive logins --------------------------------------------------------------------
AuthRequest create_auth_request(Db& db, const std::string& machine_key, const std::string& node_key,
                                const std::string& hostname, TimePoint expires_at);
std::optional<AuthRequest> find_auth_request(Db& db, std::string_view id);
// Approves a pending request for `user_id`. Throws NotFound for an unknown ID and StoreError
// for one that expired or was already used.
// `method` (cli, oidc) becomes the node's register_method.
void approve_auth_request(Db& db, std::string_view id, std::int64_t user_id, TimePoint now,
                          const std::string& method = "cli");
void set_auth_request_status(Db& db, std::string_view id, const std::string& status);
// Refuses a pending login: its status becomes "rejected" and it ends now, so hs-control stops
// holding the client's request (the client is given a new login URL) and the ID cannot be
// approved any more. NotFound for an unknown ID, StoreError for one that is not pending.
AuthRequest reject_auth_request(Db& db, std::string_view id, TimePoint now);
// Removes requests that expired before `now`.
void prune_auth_requests(Db& db, TimePoint now);
// The open login of this machine and node key, if it has one that has not expired.
std::optional<AuthRequest> find_pending_auth_request(Db& db, const std::string& machine_key,
                                                     const std::string& node_key, TimePoint now);
std::int64_t count_pending_auth_requests(Db& db, TimePoint now);

// --- hs-control instances (instances.cpp): several on one PostgreSQL database, one on SQLite.
inline constexpr int kMaxInstances = 63;  // nodes.online's bits, a signed 64-bit column
inline constexpr std::uint64_t kAllInstanceBits = (std::uint64_t{1} << kMaxInstances) - 1;
// This process's slot for as long as its connection lives (0 on SQLite). Throws DbError, having
// changed nothing, when every slot is taken or an hs-control older than the slots runs.
int claim_instance_slot(Db& db);
// For a tool that must run alone on the database (hs-admin import headscale): takes the lock
// every hs-control instance shares, alone, for as long as `db`'s connection lives. Throws
// DbError, having changed nothing, while an hs-control runs. Nothing on SQLite (its lock file).
void exclude_instances(Db& db);
// The slots whose instance is alive (its connection holds the slot's lock); bit 0 on SQLite.
std::uint64_t live_instance_slots(Db& db);
// Clears the presence bits of slots no instance holds (one killed without its exit's cleanup),
// so their nodes go offline for everyone; the number of nodes changed. Nothing on SQLite.
int reap_dead_instances(Db& db, TimePoint now);
// At an instance's start and exit: its own bits, from whoever held the slot before or from
// itself. On SQLite (the one instance) the primary routes too: nobody serves any yet.
void clear_instance_presence(Db& db, int slot);
// Records the instance in control_instances, after checking that every live instance uses the
// same Noise public key (clients pin it): a DbError naming the other instance otherwise, with
// nothing written. Nothing on SQLite.
void register_instance(Db& db, int slot, const std::string& noise_public_key, TimePoint now);
// Work one instance does for all (PostgreSQL: whoever holds its lock; SQLite: the one instance).
enum class Duty { RouteElection = 0, EphemeralCollection = 1 };
// Whether this instance holds the duty now; competes for it when it does not.
bool hold_duty(Db& db, Duty duty);

// --- the change log (change_log.cpp): schema.cpp's triggers add a row for every write to
// nodes, users and policies, whoever made it; hs-control reads past what it has seen.
// Forgets change-log entries older than `before`: every reader has seen them by then.
void prune_change_log(Db& db, TimePoint before);
// The newest entry's sequence number (0 when the log is empty).
std::int64_t change_log_head(Db& db);
struct ChangesSince {
    bool pruned = false;                 // entries after `seq` were pruned: reload everything
    std::int64_t last_seq = 0;           // the newest entry read (`seq` when there were none)
    std::vector<std::int64_t> node_ids;  // in log order, repeats kept
    bool users = false;
    bool policies = false;
};
// What changed after entry `seq`.
ChangesSince changes_since(Db& db, std::int64_t seq);

// --- the audit trail (audit.cpp): one append-only row per change (docs/security.md) ----
struct AuditEntry {
    std::int64_t id = 0;
    TimePoint at{};
    std::string actor;                  // "apikey:3", "unix:alice", "hs-control", "oidc:<subject>"
    std::string action;                 // the operation: "users.create", "node.registered", ...
    std::string object;                 // what it acted on: "user 3 (alice)", "node 7 (laptop)"
    std::optional<std::string> before;  // compact JSON summaries; null when not applicable
    std::optional<std::string> after;
    std::string source;  // where from: the client's address, or "local" for hs-admin on the file
};
// Appends `e` (its id is ignored) and returns the new row's id.
std::int64_t append_audit(Db& db, const AuditEntry& e);
// Entries at or after `since` with id > after_id, oldest first, at most `limit`.
std::vector<AuditEntry> list_audit(Db& db, TimePoint since, std::int64_t after_id = 0, std::int64_t limit = 100000);
// The newest row's id (0 when the trail is empty).
std::int64_t last_audit_id(Db& db);
// The last `limit` rows up to id `through` whose action starts with `prefix` ("signin."),
// oldest first: what an event follower replays to know each account's past sign-ins.
std::vector<AuditEntry> audit_history(Db& db, const std::string& prefix, std::int64_t through, std::int64_t limit);

// --- webhook delivery cursors (webhook_cursors.cpp), one row per webhook URL ----
struct WebhookCursor {
    std::int64_t last_id = 0;                // every event of rows up to this id is settled
    int done_in_next = 0;                    // events of the row after it already delivered
    int attempts = 0;                        // failed tries of the next event so far
    std::optional<TimePoint> failing_since;  // when its first try failed
};
std::optional<WebhookCursor> find_webhook_cursor(Db& db, const std::string& url);
void save_webhook_cursor(Db& db, const std::string& url, const WebhookCursor& c, TimePoint now);

}  // namespace hs::store
