// compile(): parse, build node address sets, resolve every rule to IP sets once, and record
// which nodes each rule touches (§4.10 step 1-3). Per-node answers are in view.cpp.
#include <algorithm>

#include "common/policy/aliases.h"
#include "common/policy/compiled.h"

namespace hs::policy {

std::vector<Problem> run_policy_tests(const CompiledImpl& c, const Resolver& res);  // tests.cpp
void compile_extras(CompiledImpl& c, const Resolver& res);                          // view_extras.cpp
void compile_attr_targets(CompiledImpl& c, const Resolver& res);                    // view_extras.cpp
std::vector<std::size_t> disable_ipv4_nodes(const CompiledImpl& c);                 // view_extras.cpp

namespace {

void build_nodes(CompiledImpl& c, std::vector<Node> nodes) {
    std::unordered_map<std::uint64_t, int> user_by_id;
    for (std::size_t i = 0; i < c.users.size(); ++i) user_by_id[c.users[i].id] = static_cast<int>(i);
    c.user_nodes.assign(c.users.size(), {});
    c.nodes.reserve(nodes.size());
    for (Node& rec : nodes) {
        NodeInfo n;
        n.rec = std::move(rec);
        n.tagged = !n.rec.tags.empty();
        for (const std::string* ip : {&n.rec.ipv4, &n.rec.ipv6}) {
            if (auto a = parse_addr(*ip)) {
                n.addrs.push_back(a->v);
                n.own.push_back({*a, a->v6 ? 128 : 32});
                n.ips.add(n.own.back());
            }
        }
        for (const std::string& r : n.rec.approved_routes) {
            auto cidr = parse_cidr(r, true);
            if (!cidr) continue;
            if (is_exit_route(*cidr)) {
                n.exit_routes.push_back(*cidr);
            } else {
                n.routes.add(*cidr);
            }
        }
        n.ips.normalize();
        n.routes.normalize();
        n.ident = n.ips;
        n.ident.add(n.routes);
        n.ident.normalize();
        auto u = user_by_id.find(n.rec.user_id);
        if (!n.tagged && u != user_by_id.end()) {
            n.user = u->second;
            c.user_nodes[static_cast<std::size_t>(n.user)].push_back(static_cast<int>(c.nodes.size()));
        }
        c.by_id[n.rec.id] = c.nodes.size();
        c.nodes.push_back(std::move(n));
    }
}

// Finds the nodes whose own addresses or approved routes overlap a set: a sorted address index
// answers the common case; the few route-carrying nodes are checked one by one.
class NodeIndex {
public:
    explicit NodeIndex(const CompiledImpl& c) : c_(c) {
        for (std::size_t i = 0; i < c.nodes.size(); ++i) {
            for (u128 a : c.nodes[i].addrs) addrs_.emplace_back(a, i);
            if (!c.nodes[i].routes.empty()) routers_.push_back(i);
            if (!c.nodes[i].exit_routes.empty()) exits_.push_back(i);
        }
        std::sort(addrs_.begin(), addrs_.end());
    }
    void mark(const IpSet& s, Bits& out) const {
        for (const Range& r : s.ranges()) {
            auto it = std::lower_bound(addrs_.begin(), addrs_.end(), std::make_pair(r.lo, std::size_t{0}));
            for (; it != addrs_.end() && it->first <= r.hi; ++it) out.set(it->second);
        }
        for (std::size_t i : routers_) {
            if (s.overlaps(c_.nodes[i].routes)) out.set(i);
        }
    }
    const std::vector<std::size_t>& exits() const { return exits_; }

private:
    const CompiledImpl& c_;
    std::vector<std::pair<u128, std::size_t>> addrs_;
    std::vector<std::size_t> routers_, exits_;
};

void mark_dst(const CompiledImpl& c, const NodeIndex& idx, CompiledRule& cr) {
    std::size_t n = c.nodes.size();
    if (cr.dst.star) {
        for (std::size_t i = 0; i < n; ++i) cr.dst_nodes.set(i);
    }
    idx.mark(cr.dst.nodes, cr.dst_nodes);
    idx.mark(cr.dst.literal_set, cr.dst_nodes);
    for (std::size_t i : idx.exits()) {
        if (cr.dst.internet || cr.dst.literal_set.overlaps(c.internet)) cr.dst_nodes.set(i);
    }
    if (!cr.spec->via.empty()) {
        // A via grant only lands on the routers carrying one of the via tags.
        Bits keep(n);
        for (std::size_t i = 0; i < n; ++i) {
            const auto& tags = c.nodes[i].rec.tags;
            for (const std::string& t : cr.spec->via) {
                if (cr.dst_nodes.test(i) && std::find(tags.begin(), tags.end(), t) != tags.end()) keep.set(i);
            }
        }
        cr.dst_nodes = std::move(keep);
    }
}

void mark_self(const CompiledImpl& c, CompiledRule& cr) {
    for (const auto& devices : c.user_nodes) {
        bool any = false;
        for (int i : devices) any = any || cr.src.overlaps(c.nodes[static_cast<std::size_t>(i)].ips);
        if (!any) continue;
        for (int i : devices) cr.dst_nodes.set(static_cast<std::size_t>(i));
    }
}

void add_rule(CompiledImpl& c, const Resolver& res, const NodeIndex& idx, const Rule& rule, bool self_part) {
    CompiledRule cr;
    cr.spec = &rule;
    cr.self = self_part;
    cr.src_nodes = Bits(c.nodes.size());
    cr.dst_nodes = Bits(c.nodes.size());
    for (const Alias& a : rule.src) res.add_src(a, cr.src, cr.src_all);
    cr.src.normalize();
    // No source: no packet can match. Tailscale still sends capability grants (with empty
    // SrcIPs), so only those survive.
    if (rule.src.empty() || (cr.src.empty() && rule.app.empty())) return;
    cr.src_text = cr.src_all ? std::vector<std::string>{"*"} : cr.src.strings();
    if (cr.src_all) {
        for (std::size_t i = 0; i < c.nodes.size(); ++i) cr.src_nodes.set(i);
    } else {
        idx.mark(cr.src, cr.src_nodes);
    }
    if (self_part) {
        mark_self(c, cr);
    } else {
        for (const Alias& a : rule.dst) {
            if (!(a.kind == Alias::Kind::autogroup && a.name == "self")) res.add_dst(a, cr.dst);
        }
        cr.dst.nodes.normalize();
        cr.dst.literal_set.normalize();
        mark_dst(c, idx, cr);
    }
    c.rules.push_back(std::move(cr));
}

// Some capabilities need the reverse direction too: a drive share lets the destination reach
// back as "drive-sharer", a peer relay grant gives the relay "relay-target".
void add_companions(CompiledImpl& c) {
    static const std::pair<const char*, const char*> pairs[] = {
        {"tailscale.com/cap/drive", "tailscale.com/cap/drive-sharer"},
        {"tailscale.com/cap/relay", "tailscale.com/cap/relay-target"}};
    for (const Rule& rule : c.policy.rules) {
        for (const auto& pair : pairs) {
            const char* cap = pair.first;
            const char* companion = pair.second;
            bool has = std::any_of(rule.app.begin(), rule.app.end(), [&](const auto& a) { return a.first == cap; });
            if (!has) continue;
            // The reverse of src->dst; autogroup:self stays within each user, so its
            // reverse is itself.
            Rule back, self_back;
            for (const Alias& a : rule.dst) {
                bool self = a.kind == Alias::Kind::autogroup && a.name == "self";
                (self ? self_back.dst : back.src).push_back(a);
            }
            back.dst = rule.src;
            self_back.src = rule.src;
            for (Rule* r : {&back, &self_back}) {
                if (r->src.empty() || r->dst.empty()) continue;
                r->app.emplace_back(companion, nullptr);  // Tailscale sends these without values
                r->pos = rule.pos;
                c.companions.push_back(std::move(*r));
            }
        }
    }
}

void build_rules(CompiledImpl& c, const Resolver& res) {
    NodeIndex idx(c);
    add_companions(c);
    std::vector<const Rule*> all;
    for (const Rule& rule : c.policy.rules) all.push_back(&rule);
    for (const Rule& rule : c.companions) all.push_back(&rule);
    for (const Rule* rp : all) {
        const Rule& rule = *rp;
        bool has_self = false, has_other = false;
        for (const Alias& a : rule.dst) {
            bool self = a.kind == Alias::Kind::autogroup && a.name == "self";
            has_self = has_self || self;
            has_other = has_other || !self;
        }
        // Non-self destinations first, mirroring the order Tailscale emits.
        if (has_other) add_rule(c, res, idx, rule, false);
        if (has_self) add_rule(c, res, idx, rule, true);
    }
    c.rules_by_src.assign(c.nodes.size(), {});
    c.rules_by_dst.assign(c.nodes.size(), {});
    for (std::size_t r = 0; r < c.rules.size(); ++r) {
        c.rules[r].src_nodes.each([&](std::size_t i) { c.rules_by_src[i].push_back(static_cast<int>(r)); });
        c.rules[r].dst_nodes.each([&](std::size_t i) { c.rules_by_dst[i].push_back(static_cast<int>(r)); });
    }
}

}  // namespace

Compiled::Compiled(std::unique_ptr<CompiledImpl> impl) : impl_(std::move(impl)) {}
Compiled::~Compiled() = default;

std::vector<Problem> check(std::string_view policy_text) {
    ParsedPolicy p;
    std::vector<Problem> problems;
    parse_policy_text(policy_text, p, problems);
    return problems;
}

CompileResult compile(std::string_view policy_text, std::vector<User> users, std::vector<Node> nodes,
                      bool enforce_tests) {
    auto impl = std::make_unique<CompiledImpl>();
    CompileResult out;
    parse_policy_text(policy_text, impl->policy, out.problems);
    if (!out.problems.empty()) return out;
    impl->users = std::move(users);
    impl->internet = internet_set();
    build_nodes(*impl, std::move(nodes));
    impl->resolver = std::make_shared<Resolver>(*impl, out.problems);
    if (!out.problems.empty()) return out;
    compile_attr_targets(*impl, *impl->resolver);
    if (auto drop = disable_ipv4_nodes(*impl); !drop.empty()) {
        // nodeAttrs "disable-ipv4": the node has no IPv4 address anywhere in the tailnet.
        // Targets were chosen with the addresses as given; the rest compiles without them.
        std::vector<Node> records;
        for (NodeInfo& n : impl->nodes) records.push_back(std::move(n.rec));
        for (std::size_t i : drop) records[i].ipv4.clear();
        auto targets = std::move(impl->attr_targets);
        impl->nodes.clear();
        impl->by_id.clear();
        build_nodes(*impl, std::move(records));
        impl->resolver = std::make_shared<Resolver>(*impl, out.problems);
        impl->attr_targets = std::move(targets);
        for (std::size_t i : drop) impl->nodes[i].v4_disabled = true;
    }
    build_rules(*impl, *impl->resolver);
    compile_extras(*impl, *impl->resolver);
    impl->test_failures = run_policy_tests(*impl, *impl->resolver);
    if (enforce_tests && !impl->test_failures.empty()) {
        out.problems = impl->test_failures;
        return out;
    }
    out.compiled = std::make_shared<Compiled>(std::move(impl));
    return out;
}

}  // namespace hs::policy
