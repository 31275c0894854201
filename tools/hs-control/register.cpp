// POST /machine/register: pre-auth keys, interactive logins, restarts, logout, key rotation.
#include <spdlog/spdlog.h>

#include "common/admin/audit.h"
#include "common/admin/signin.h"
#include "common/base/fault.h"
#include "common/base/ipalloc.h"
#include "common/base/keys.h"
#include "common/base/log.h"
#include "common/base/netaddr.h"
#include "common/store/store.h"
#include "tools/hs-control/login_guard.h"
#include "tools/hs-control/source_limits.h"
#include "tools/hs-control/tailnet.h"

namespace hs::control {

using nlohmann::json;

namespace {

// How long an interactive login stays open for an admin to approve it: headscale's 15 minutes
// (registerCacheExpiration in hscontrol/types), long enough for a person, short for a flood.
constexpr auto kAuthRequestLifetime = std::chrono::minutes(15);
// Logins waiting for approval. Anyone who completes the Noise handshake can start one, so both
// the number per address and the total are bounded; a refused client is told to retry later.
constexpr std::size_t kMaxPendingPerSource = 16;
constexpr std::int64_t kMaxPendingLogins = 1000;

RegisterReply error_reply(const std::string& msg) {
    RegisterReply r;
    r.body = {{"Error", msg}};
    return r;
}

std::optional<TimePoint> request_expiry(const json& req) {
    const auto it = req.find("Expiry");
    if (it == req.end() || !it->is_string()) return std::nullopt;
    const auto t = parse_time(it->get<std::string>());
    // Go's zero time (year 1) means "no request"; anything from 1970 on is a real request, and
    // the client's logout sentinel is 1970-01-01T00:02:03Z.
    if (!t || *t < TimePoint{}) return std::nullopt;
    return t;
}

std::string hostname_of(const json& req) {
    const auto hi = req.find("Hostinfo");
    if (hi != req.end() && hi->is_object()) {
        const auto h = hi->find("Hostname");
        if (h != hi->end() && h->is_string() && !h->get<std::string>().empty()) return h->get<std::string>();
    }
    return "node";
}

// A flood of wrong keys from one script must not write one line each; the rejected counter in
// /metrics still counts every one.
LogLimiter& rejection_limiter() {
    static LogLimiter limiter;
    return limiter;
}

// `reason` is one of a fixed set (the limiter keeps a slot per reason); `why` may add detail.
// The hostname is the client's own claim, so it is quoted and cut short; the address and the
// Noise machine key are what identify the sender.
void log_rejection(std::string_view reason, const std::string& why, const std::string& peer,
                   const std::string& machine_key, const json& req) {
    const auto suppressed = rejection_limiter().allow(reason);
    if (!suppressed) return;
    constexpr std::size_t kMaxHostname = 64;
    const auto hostname = hostname_of(req);
    spdlog::warn("registration from {} (machine {}, hostname \"{}{}\") refused: {}{}", peer.empty() ? "?" : peer,
                 machine_key, hostname.substr(0, kMaxHostname), hostname.size() > kMaxHostname ? "..." : "", why,
                 suppressed_note(*suppressed));
}

}  // namespace

std::string Tailnet::auth_url(const std::string& id) const { return cfg_.server_url + "/register/" + id; }

RegisterReply Tailnet::success(const Live& l) const {
    json user, login;
    if (l.rec.tags.empty() && l.rec.user_id && users_.count(*l.rec.user_id)) {
        const auto& u = users_.at(*l.rec.user_id);
        const auto display = u.display_name.empty() ? u.name : u.display_name;
        user = {{"ID", u.id},
                {"DisplayName", display},
                {"ProfilePicURL", u.profile_pic_url},
                {"Created", format_time(u.created_at)}};
        login = {{"ID", u.id},
                 {"Provider", u.provider},
                 {"LoginName", u.email.empty() ? u.name : u.email},
                 {"DisplayName", display},
                 {"ProfilePicURL", u.profile_pic_url}};
    } else {
        user = {{"ID", kTaggedDevicesUserId},
                {"DisplayName", "Tagged Devices"},
                {"ProfilePicURL", ""},
                {"Created", "0001-01-01T00:00:00Z"}};
        login = {{"ID", kTaggedDevicesUserId},
                 {"Provider", ""},
                 {"LoginName", "tagged-devices"},
                 {"DisplayName", "Tagged Devices"},
                 {"ProfilePicURL", ""}};
    }
    RegisterReply r;
    const bool expired = l.rec.expired(Clock::now());
    r.body = {{"User", user},
              {"Login", login},
              {"MachineAuthorized", !expired && l.rec.approved},
              {"NodeKeyExpired", expired}};
    return r;
}

RegisterReply Tailnet::start_interactive(const std::string& machine_key, const json& req, TimePoint now,
                                         const std::string& peer) {
    const auto source = source_of(peer);
    const auto node_key = *request_key(req, "NodeKey", kNodePrefix);
    RegisterReply r;
    // The same device asking again gets the login it already has: no new row.
    if (const auto ar = store::find_pending_auth_request(db_, machine_key, node_key, now)) {
        r.body = {{"AuthURL", auth_url(ar->id)}, {"MachineAuthorized", false}};
        return r;
    }
    check_writable(now);
    auto& mine = pending_logins_[source];
    std::erase_if(mine, [&](TimePoint t) { return t <= now; });
    if (mine.size() >= kMaxPendingPerSource || store::count_pending_auth_requests(db_, now) >= kMaxPendingLogins) {
        ++stats_.registrations_rejected;
        ++stats_.logins_refused;
        return error_reply("too many logins are waiting for approval; try again in a few minutes");
    }
    const auto ar =
        store::create_auth_request(db_, machine_key, node_key, hostname_of(req), now + kAuthRequestLifetime);
    mine.push_back(ar.expires_at);
    ++stats_.registrations_pending;
    spdlog::info("interactive login for {} from {} waits for: hs-admin nodes register --user USER --key {}",
                 hostname_of(req), peer, ar.id);
    r.body = {{"AuthURL", auth_url(ar.id)}, {"MachineAuthorized", false}};
    return r;
}

RegisterReply Tailnet::complete_registration(const std::string& machine_key, const json& req,
                                             std::optional<std::int64_t> user_id, std::vector<std::string> tags,
                                             std::optional<std::int64_t> auth_key_id, bool ephemeral,
                                             const std::string& method, Db::Tx& tx, TimePoint now) {
    const auto node_key = *request_key(req, "NodeKey", kNodePrefix);
    const auto old_key = request_key(req, "OldNodeKey", kNodePrefix);
    const auto hostinfo = req.contains("Hostinfo") && req["Hostinfo"].is_object() ? req["Hostinfo"] : json::object();
    const auto hostname = hostname_of(req);
    std::optional<TimePoint> expiry;
    if (tags.empty() && cfg_.node_expiry.count() > 0) expiry = now + cfg_.node_expiry;
    // Under the transaction's write lock nobody else registers: what other instances or hs-admin
    // committed is read now, so the lookups and the address below see every node there is.
    catch_up(now);

    // The same device logging in again keeps its node: found by its current or previous node
    // key, or by machine key for the same owner (a reinstall keeps the machine key).
    Live* existing = by_node_key(node_key);
    if (!existing && old_key) existing = by_node_key(*old_key);
    if (!existing) {
        // The oldest such node, as a walk over nodes_ in ID order would find.
        const auto [first, last] = by_machine_key_.equal_range(machine_key);
        for (auto it = first; it != last; ++it) {
            auto& l = nodes_.at(it->second);
            if (l.rec.user_id == user_id && l.rec.tags == tags && (!existing || l.rec.id < existing->rec.id))
                existing = &l;
        }
    }
    if (existing && existing->rec.machine_key != machine_key) return error_reply("node key belongs to another machine");

    if (existing) {
        auto& l = *existing;
        Node next = l.rec;
        next.node_key = node_key;
        next.user_id = tags.empty() ? user_id : std::nullopt;
        next.tags = tags;
        next.expiry = expiry;
        next.register_method = method;
        if (auth_key_id) next.auth_key_id = auth_key_id;
        next.ephemeral = ephemeral;
        if (!hostinfo.empty()) next.host_info = hostinfo;
        next.hostname = hostname;
        change(l, std::move(next), now, {.write = Write::Login, .tx = &tx});
        ensure_user(l.rec.user_id);
        ++stats_.registrations_ok;
        spdlog::info("node {} ({}) logged in again", l.rec.id, l.rec.given_name);
        return success(l);
    }

    Node n;
    n.machine_key = machine_key;
    n.node_key = node_key;
    n.host_info = hostinfo;
    n.hostname = hostname;
    n.given_name = store::unique_given_name(db_, store::dns_label(hostname));
    n.user_id = tags.empty() ? user_id : std::nullopt;
    n.tags = tags;
    n.register_method = method;
    n.auth_key_id = auth_key_id;
    n.expiry = expiry;
    n.ephemeral = ephemeral;
    n.created_at = now;
    n.updated_at = now;
    n.approved = !cfg_.device_approval;
    const bool random = cfg_.allocation == "random";
    if (pools_.v4) {
        const auto ip = pools_.v4->allocate(random);
        if (!ip) return error_reply("no free IPv4 address left in " + cfg_.prefix_v4);
        n.ipv4 = ip->str();
    }
    if (pools_.v6) {
        const auto ip = pools_.v6->allocate(random);
        if (!ip) {
            pools_.release(n.ipv4);
            return error_reply("no free IPv6 address left in " + cfg_.prefix_v6);
        }
        n.ipv6 = ip->str();
    }
    try {
        n = store::insert_node(db_, n);
        // In the node's transaction: a registration and its audit row land together or not at
        // all, even while other writers keep the write lock busy.
        admin::audit_control_change(db_, now, "node.registered", admin::node_object(n), nullptr, admin::node_summary(n),
                                    method);
        tx.commit();
    } catch (...) {
        // Not stored, so not taken: the next registration may have them.
        pools_.release(n.ipv4);
        pools_.release(n.ipv6);
        throw;
    }
    ensure_user(n.user_id);
    const auto& l = add_node(std::move(n), now, Tell::Everyone);
    ++stats_.registrations_ok;
    spdlog::info("registered node {} ({}, {}) by {}{}", l.rec.id, l.rec.given_name, l.rec.ipv4.value_or("-"), method,
                 l.rec.approved ? "" : "; it waits for: hs-admin nodes approve " + std::to_string(l.rec.id));
    return success(l);
}

std::optional<RegisterReply> Tailnet::guard_preauth_key(const std::string& machine_key, const json& req,
                                                        const std::string& auth_key, TimePoint now,
                                                        const std::string& peer) {
    if (!guard_) return std::nullopt;
    using Kind = LoginGuard::Kind;
    auto refuse = [&](std::string_view reason, const std::string& why) {
        ++stats_.registrations_rejected;
        log_rejection(reason, why, peer, machine_key, req);
        return error_reply(why);
    };
    // tailscale up prints the Error as "backend error: ..." and exits; tailscaled retries later.
    if (const auto wait = guard_->throttled(Kind::PreAuthKey, peer, now))
        return refuse("throttled", "too many failed sign-in attempts from your address; try again in " +
                                       std::to_string(wait->count()) + " seconds");
    const auto prefix = store::preauth_key_prefix(auth_key);
    const auto lock_key = prefix ? admin::lock_key_preauth(*prefix) : std::string();
    if (prefix)
        if (const auto until = guard_->locked(lock_key, now)) {
            guard_->failed(Kind::PreAuthKey, peer, lock_key, "locked", now);
            return refuse("locked pre-auth key", "this pre-auth key is locked after too many failed attempts until " +
                                                     format_time(*until) + "; ask an admin to unlock it");
        }
    if (store::lookup_preauth_key(db_, auth_key)) return std::nullopt;
    // A wrong secret counts against the key its prefix names; a prefix no key has costs the
    // source only (random prefixes must not fill the lock table).
    const bool known = prefix && store::find_preauth_key_by_prefix(db_, *prefix);
    guard_->failed(Kind::PreAuthKey, peer, known ? lock_key : "", known ? "wrong key" : "unknown key", now);
    return refuse("invalid pre-auth key", "invalid pre-auth key");
}

RegisterReply Tailnet::register_with_key(const std::string& machine_key, const json& req, const std::string& auth_key,
                                         Live* current, TimePoint now, const std::string& peer) {
    check_writable(now);
    // Outside the transaction below: the limiter's rows must stay when the registration is refused.
    if (auto refused = guard_preauth_key(machine_key, req, auth_key, now, peer)) return std::move(*refused);
    // The key's use and the node's row are one transaction: a file that fails between them
    // must not leave a single-use key spent with no node to show for it.
    Db::Tx tx(db_);
    const auto key = store::lookup_preauth_key(db_, auth_key);
    auto reject = [&](const std::string& why) {
        ++stats_.registrations_rejected;
        log_rejection(why, why, peer, machine_key, req);
        return error_reply(why);
    };
    if (!key) return reject("invalid pre-auth key");
    if (key->expired(now)) return reject("pre-auth key has expired");
    // A node already registered with this key may present it again (tailscaled does on
    // every login while the key is in its prefs); only a new node uses it up.
    const bool reuse_by_same_node = current && current->rec.auth_key_id == key->id;
    if (key->used && !key->reusable && !reuse_by_same_node) return reject("pre-auth key has already been used");
    if (!key->reusable && !reuse_by_same_node && !store::claim_preauth_key(db_, key->id))
        return reject("pre-auth key has already been used");
    if (key->reusable) store::claim_preauth_key(db_, key->id);
    // The crash test stops the process here: the claim must not outlive a node never inserted.
    fault::point("register.key_claimed");
    // A tagged key's tags are the node's; only a user's key lets the client ask for some.
    auto tags = key->tags;
    if (tags.empty())
        if (auto why = grant_requested_tags(key->user_id, req, tags)) return reject(*why);  // the key stays unspent
    const bool ephemeral = key->ephemeral || req.value("Ephemeral", false);
    // Its audit row and lock reset go in the registration's transaction, which a refusal below
    // rolls back with them.
    if (guard_)
        guard_->succeeded(LoginGuard::Kind::PreAuthKey, peer, admin::lock_key_preauth(key->prefix),
                          "preauthkey:" + key->prefix, "pre-auth key " + std::to_string(key->id), now);
    return complete_registration(machine_key, req, key->user_id, tags, key->id, ephemeral, "authkey", tx, now);
}

RegisterReply Tailnet::register_node(const std::string& machine_key, const json& req, TimePoint now,
                                     const std::string& peer) {
    on_owner_thread();
    auto r = handle_register(machine_key, req, now, peer);
    publish(now);
    return r;
}

RegisterReply Tailnet::logout(Live& l, TimePoint now) {
    check_writable(now);
    if (l.rec.ephemeral) {
        spdlog::info("ephemeral node {} ({}) logged out; deleting it", l.rec.id, l.rec.given_name);
        admin::audit_control_change(db_, now, "node.deleted", admin::node_object(l.rec), admin::node_summary(l.rec),
                                    nullptr, "ephemeral logout");
        RegisterReply r = success(l);
        remove_node(l.rec.id, now, true);
        r.body["NodeKeyExpired"] = true;
        r.body["MachineAuthorized"] = false;
        return r;
    }
    auto next = l.rec;
    next.expiry = now;  // the client's 1970 sentinel becomes "now"
    change(l, std::move(next), now, {.write = Write::Expiry});
    spdlog::info("node {} ({}) logged out", l.rec.id, l.rec.given_name);
    return success(l);
}

RegisterReply Tailnet::handle_register(const std::string& machine_key, const json& req, TimePoint now,
                                       const std::string& peer) {
    const auto node_key = request_key(req, "NodeKey", kNodePrefix);
    if (!node_key) {
        ++stats_.registrations_rejected;
        log_rejection("bad node key", "NodeKey is missing or malformed", peer, machine_key, req);
        RegisterReply r;
        r.status = 400;
        r.body = {{"Error", "NodeKey is missing or malformed"}};
        return r;
    }
    if (const auto v = req.find("Version"); v != req.end() && v->is_number_integer() && v->get<int>() < kMinCapVer) {
        ++stats_.registrations_rejected;
        log_rejection(
            "old client",
            "client capability version " + std::to_string(v->get<int>()) + " is below " + std::to_string(kMinCapVer),
            peer, machine_key, req);
        return error_reply("this Tailscale client is too old for this server (capability version " +
                           std::to_string(v->get<int>()) + ", at least " + std::to_string(kMinCapVer) +
                           " (v1.74) is needed)");
    }
    Live* current = by_node_key(*node_key);
    if (!current) {
        // A node that registered through another instance moments ago is not a new one.
        read_other_writers(now);
        current = by_node_key(*node_key);
    }
    if (current && current->rec.machine_key != machine_key) {
        ++stats_.registrations_rejected;
        log_rejection("foreign node key", "node key belongs to another machine", peer, machine_key, req);
        return error_reply("node key belongs to another machine");
    }

    // Logout first: a logout may carry an auth key too.
    const auto expiry = request_expiry(req);
    if (expiry && *expiry <= now && current) return logout(*current, now);

    std::string auth_key;
    if (const auto a = req.find("Auth"); a != req.end() && a->is_object())
        if (const auto k = a->find("AuthKey"); k != a->end() && k->is_string()) auth_key = k->get<std::string>();

    if (!auth_key.empty()) return register_with_key(machine_key, req, auth_key, current, now, peer);

    // A restart: the node presents its current key and asks for nothing new.
    if (current && !expiry) {
        const auto followup = req.value("Followup", std::string());
        if (followup.empty() || current->rec.expired(now) == false) return success(*current);
    }
    if (current && expiry && *expiry > now) {
        // SetExpirySooner: only ever shortens.
        if (!current->rec.expiry || *expiry < *current->rec.expiry) {
            auto next = current->rec;
            next.expiry = *expiry;
            change(*current, std::move(next), now, {.write = Write::Expiry});
        }
        return success(*current);
    }

    // Interactive: a follow-up names the request it waits on.
    const auto followup = req.value("Followup", std::string());
    const std::string marker = "/register/";
    if (const auto pos = followup.rfind(marker); !followup.empty() && pos != std::string::npos) {
        const auto id = followup.substr(pos + marker.size());
        RegisterReply r;
        r.hold = true;
        r.auth_id = id;
        return r;
    }
    return start_interactive(machine_key, req, now, peer);
}

std::optional<RegisterReply> Tailnet::poll_auth(const std::string& auth_id, const std::string& machine_key,
                                                const json& req, TimePoint now, const std::string& peer) {
    on_owner_thread();
    auto r = handle_poll_auth(auth_id, machine_key, req, now, peer);
    publish(now);
    return r;
}

std::optional<RegisterReply> Tailnet::handle_poll_auth(const std::string& auth_id, const std::string& machine_key,
                                                       const json& req, TimePoint now, const std::string& peer) {
    auto ar = store::find_auth_request(db_, auth_id);
    if (!ar || ar->expires_at <= now || ar->machine_key != machine_key || ar->status == "done")
        return start_interactive(machine_key, req, now, peer);
    if (ar->status != "approved" || !ar->user_id) return std::nullopt;
    check_writable(now);
    Db::Tx tx(db_);
    ar = store::find_auth_request(db_, auth_id);  // under the write lock: nobody completes it twice
    if (!ar || ar->status != "approved" || !ar->user_id) return std::nullopt;
    store::set_auth_request_status(db_, auth_id, "done");
    std::vector<std::string> tags;
    if (auto why = grant_requested_tags(ar->user_id, req, tags)) {
        tx.commit();  // the request is answered: the client starts over with other tags
        ++stats_.registrations_rejected;
        log_rejection(*why, *why, peer, machine_key, req);
        return error_reply(*why);
    }
    const bool ephemeral = req.value("Ephemeral", false);
    return complete_registration(machine_key, req, ar->user_id, tags, std::nullopt, ephemeral, ar->method, tx, now);
}

}  // namespace hs::control
