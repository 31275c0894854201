// Operations on nodes. Writes use the narrow setters in store/node_fields.cpp inside a
// transaction with the read they depend on; a running hs-control picks them up through the
// nodes_upd trigger and the change log.
#include <algorithm>
#include <set>

#include "common/admin/ops.h"
#include "common/admin/policy_input.h"
#include "common/base/ipalloc.h"
#include "common/base/netaddr.h"
#include "common/policy/explain.h"

namespace hs::admin {
namespace {

Node must_find(Env& env, std::int64_t id) {
    auto n = store::find_node(env.db, id);
    if (!n) throw store::NotFound("node " + std::to_string(id) + " not found");
    return *n;
}

json shown(Env& env, std::int64_t id) { return node_json(must_find(env, id), user_index(env.db), env.now); }

json nodes_list(Env& env, const Params& p) {
    const auto user = p.str("user");
    std::optional<std::int64_t> only;
    if (!user.empty()) only = store::resolve_user(env.db, user).id;
    const auto tag = p.str("tag");
    const bool online = p.flag("online"), expired = p.flag("expired");
    const auto users = user_index(env.db);
    auto items = json::array();
    store::each_node(env.db, [&](Node&& n) {
        if (only && n.user_id != *only) return;
        if (!tag.empty() && std::find(n.tags.begin(), n.tags.end(), tag) == n.tags.end()) return;
        if (online && (!n.online || n.expired(env.now))) return;
        if (expired && !n.expired(env.now)) return;
        if (env.emit) env.emit(node_json(n, users, env.now));
        else items.push_back(node_json(n, users, env.now));
    });
    return items;
}

// headscale's ExpireNode: now by default, `expiry` (RFC 3339) sets that moment, past or
// future, and `disable_expiry` removes the expiry (the node never expires); not both.
json nodes_expire(Env& env, const Params& p) {
    const auto id = p.id("id", "node");
    const bool disable = p.flag("disable_expiry");
    std::optional<TimePoint> at;
    if (p.has("expiry")) {
        const auto text = p.str("expiry");
        at = parse_time(text);
        if (!at)
            throw store::StoreError("invalid expiry \"" + text +
                                    "\": expected an RFC 3339 time such as 2025-08-27T10:00:00Z");
        if (disable) throw store::StoreError("cannot set both an expiry and disable the expiry");
    }
    Db::Tx tx(env.db);
    const auto n = must_find(env, id);
    if (disable) {
        if (n.expiry) store::set_node_expiry(env.db, id, std::nullopt);
    } else if (at) {
        store::set_node_expiry(env.db, id, *at);
    } else if (!n.expired(env.now)) {
        store::set_node_expiry(env.db, id, env.now);  // an expired node keeps the moment it expired
    }
    tx.commit();
    return shown(env, id);
}

// auth.device_approval: the node's peers see it from now on (hs-control hears of the change
// through the change log). Approving an approved node changes nothing and is no error.
json nodes_approve(Env& env, const Params& p) {
    const auto id = p.id("id", "node");
    Db::Tx tx(env.db);
    if (!must_find(env, id).approved) store::set_node_approved(env.db, id, true);
    tx.commit();
    return shown(env, id);
}

json nodes_rename(Env& env, const Params& p) {
    const auto id = p.id("id", "node");
    const auto name = p.str("new_name");
    store::validate_given_name(name);
    Db::Tx tx(env.db);
    const auto n = must_find(env, id);
    if (store::unique_given_name(env.db, name, id) != name)
        throw store::StoreError("node name \"" + name + "\" is already used by another node");
    if (n.given_name != name) store::set_node_given_name(env.db, id, name);
    tx.commit();
    return shown(env, id);
}

json nodes_delete(Env& env, const Params& p) {
    const auto id = p.id("id", "node");
    store::delete_node(env.db, id);
    return result_json("node " + std::to_string(id) + " deleted");
}

json nodes_move(Env& env, const Params& p) {
    const auto id = p.id("id", "node");
    const auto owner = store::resolve_user(env.db, p.str("user"));
    Db::Tx tx(env.db);
    const auto n = must_find(env, id);
    if (!n.tags.empty())
        throw store::StoreError("node " + std::to_string(id) + " is tagged (" + n.tags.front() +
                                "); a tagged node belongs to its tags, not to a user");
    if (n.user_id != owner.id) store::set_node_user(env.db, id, owner.id);
    tx.commit();
    return shown(env, id);
}

json nodes_tag(Env& env, const Params& p) {
    const auto id = p.id("id", "node");
    auto tags = p.list("tags");
    if (tags.empty()) throw store::StoreError("cannot remove all tags: give at least one tag:name");
    for (const auto& t : tags) store::validate_tag(t);
    std::sort(tags.begin(), tags.end());
    tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
    // With a policy in force, a tag must have owners there (headscale's rule); without one,
    // every tag is accepted.
    if (const auto text = current_policy_text(env)) {
        std::vector<policy::Problem> problems;
        const auto owned = policy::defined_tags(*text, problems);
        if (!problems.empty()) throw store::StoreError("the policy in force is invalid:\n" + problem_lines(problems));
        for (const auto& t : tags)
            if (!std::binary_search(owned.begin(), owned.end(), t))
                throw store::StoreError("tag \"" + t + "\" is not defined in the policy's tagOwners");
    }
    Db::Tx tx(env.db);
    const auto n = must_find(env, id);
    // Tagging makes it a tagged node: its identity is the tags, it has no owner.
    if (n.tags != tags || n.user_id) store::set_node_tags(env.db, id, tags, std::nullopt);
    tx.commit();
    return shown(env, id);
}

// Gives every node an address from each configured prefix it lacks, and drops addresses of a
// family no longer configured. Returns the nodes that changed, before and after.
json nodes_backfill_ips(Env& env, const Params&) {
    AddressPools pools(env.cfg.prefix_v4, env.cfg.prefix_v6);
    const bool random = env.cfg.allocation == "random";
    Db::Tx tx(env.db);
    const auto nodes = store::list_nodes(env.db);
    for (const auto& n : nodes) {
        pools.take(n.ipv4);
        pools.take(n.ipv6);
    }
    auto pick = [&](std::optional<AddressPool>& pool,
                    const std::optional<std::string>& have) -> std::optional<std::string> {
        if (!pool) return std::nullopt;
        if (have) return have;
        const auto ip = pool->allocate(random);
        if (!ip) throw store::StoreError("address pool " + pool->prefix().str() + " is full");
        return ip->str();
    };
    auto changes = json::array();
    for (const auto& n : nodes) {
        const auto a4 = pick(pools.v4, n.ipv4), a6 = pick(pools.v6, n.ipv6);
        if (a4 == n.ipv4 && a6 == n.ipv6) continue;
        store::set_node_ips(env.db, n.id, a4, a6);
        auto before = json::array(), after = json::array();
        for (const auto& a : {n.ipv4, n.ipv6})
            if (a) before.push_back(*a);
        for (const auto& a : {a4, a6})
            if (a) after.push_back(*a);
        changes.push_back({{"id", n.id}, {"given_name", n.given_name}, {"before", before}, {"ip_addresses", after}});
    }
    tx.commit();
    return changes;
}

}  // namespace

void add_node_ops(OpTable& t) {
    t.push_back({"nodes.list", "GET", "/api/v1/node", nodes_list});
    t.push_back({"nodes.show", "GET", "/api/v1/node/{id}",
                 [](Env& env, const Params& p) { return shown(env, p.id("id", "node")); }});
    t.push_back({"nodes.expire", "POST", "/api/v1/node/{id}/expire", nodes_expire});
    t.push_back({"nodes.approve", "POST", "/api/v1/node/{id}/approve", nodes_approve});
    t.push_back({"nodes.rename", "POST", "/api/v1/node/{id}/rename/{new_name}", nodes_rename});
    t.push_back({"nodes.delete", "DELETE", "/api/v1/node/{id}", nodes_delete});
    t.push_back({"nodes.move", "POST", "/api/v1/node/{id}/user", nodes_move});
    t.push_back({"nodes.tag", "POST", "/api/v1/node/{id}/tags", nodes_tag});
    t.push_back({"nodes.backfill_ips", "POST", "/api/v1/node/backfillips", nodes_backfill_ips});
}

}  // namespace hs::admin
