// The engine's internal state after compile: nodes with their address sets, rules resolved to
// IP sets, and which nodes each rule touches as source or destination (bitsets), so per-node
// answers are lookups rather than rescans of the policy.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

#include "common/policy/engine.h"
#include "common/policy/ipset.h"
#include "common/policy/parse.h"

namespace hs::policy {

struct NodeInfo {
    Node rec;
    std::vector<u128> addrs;  // own addresses (v4 first)
    std::vector<Cidr> own;    // the same as /32 and /128
    IpSet ips;
    IpSet routes;                   // approved subnet routes (exit routes excluded)
    std::vector<Cidr> exit_routes;  // approved 0.0.0.0/0, ::/0
    IpSet ident;                    // ips + routes: what this node may send from or receive for
    bool tagged = false;
    bool v4_disabled = false;  // nodeAttrs disable-ipv4: no IPv4 for it, nor for its view of peers
    int user = -1;             // index into users, -1 for tagged / unknown
};

class Bits {
public:
    explicit Bits(std::size_t n = 0) : w_((n + 63) / 64, 0) {}
    void set(std::size_t i) { w_[i / 64] |= std::uint64_t{1} << (i % 64); }
    bool test(std::size_t i) const { return (w_[i / 64] >> (i % 64)) & 1; }
    void merge(const Bits& o) {
        for (std::size_t k = 0; k < w_.size(); ++k) w_[k] |= o.w_[k];
    }
    template <class Fn>
    void each(Fn fn) const {
        for (std::size_t k = 0; k < w_.size(); ++k) {
            for (std::uint64_t x = w_[k]; x; x &= x - 1) fn(k * 64 + static_cast<std::size_t>(__builtin_ctzll(x)));
        }
    }

private:
    std::vector<std::uint64_t> w_;
};

// Where a rule's destinations are: node addresses (emitted per node), literal prefixes (kept
// whole), "*" and autogroup:internet.
struct DstSet {
    IpSet nodes;
    std::vector<Cidr> literal;
    IpSet literal_set;
    bool star = false;
    bool internet = false;
};

struct CompiledRule {
    const Rule* spec = nullptr;
    IpSet src;
    bool src_all = false;  // autogroup:danger-all: SrcIPs "*"
    std::vector<std::string> src_text;
    DstSet dst;
    bool self = false;  // destination autogroup:self (src is intersected per node)
    Bits src_nodes, dst_nodes;
};

class Resolver;

struct SshCompiled {
    const SshRuleSpec* spec = nullptr;
    std::vector<int> src_nodes;  // sorted, unique
    std::vector<int> src_times;  // per src_nodes entry: how often it is a principal (per tag)
    Bits dst_nodes;
    bool self = false;  // dst includes autogroup:self
};

struct CompiledImpl {
    ParsedPolicy policy;
    std::vector<User> users;
    std::vector<NodeInfo> nodes;
    std::unordered_map<std::uint64_t, std::size_t> by_id;
    std::vector<std::vector<int>> user_nodes;  // untagged nodes per user index
    std::vector<CompiledRule> rules;
    std::deque<Rule> companions;                               // rules the policy implies (drive-sharer, relay-target)
    std::vector<std::vector<int>> rules_by_src, rules_by_dst;  // per node
    IpSet internet;
    std::vector<SshCompiled> ssh;
    std::vector<Bits> attr_targets;  // per nodeAttrs entry
    std::vector<Problem> test_failures;
    std::shared_ptr<Resolver> resolver;
};

}  // namespace hs::policy
