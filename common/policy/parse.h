// The policy file as a typed tree: every section of headscale's policy v2 parsed and
// structurally checked, each entry keeping the position it came from. Names are not resolved
// against users or nodes here; that is compile's job.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/policy/ipset.h"
#include "common/policy/json.h"
#include "common/policy/types.h"

namespace hs::policy {

struct Alias {
    enum class Kind { prefix, wildcard, user, group, tag, host, autogroup };
    Kind kind = Kind::wildcard;
    std::string name;  // as written, trimmed (for autogroup: the part after "autogroup:")
    Cidr cidr;         // kind == prefix
    Pos pos;
};

struct PortRange {
    std::uint16_t first = 0;
    std::uint16_t last = 65535;
    bool operator==(const PortRange&) const = default;
};

// One protocol and the ports it opens; proto 0 = the client's default set (TCP, UDP, ICMP).
struct IpSpec {
    int proto = 0;
    std::vector<PortRange> ports;
};

// An ACL entry is turned into one Rule per destination, a grant into one Rule; both compile
// the same way from here on.
struct Rule {
    std::vector<Alias> src;
    std::vector<Alias> dst;
    std::vector<IpSpec> ip;
    std::vector<std::pair<std::string, nlohmann::json>> app;  // capability -> its values (an array or null)
    std::vector<std::string> via;
    bool from_acl = false;
    Pos pos;
};

struct SshRuleSpec {
    bool check = false;
    std::optional<std::int64_t> check_period_s;  // nullopt = default; -1 = "always"
    std::vector<Alias> src;
    std::vector<Alias> dst;
    std::vector<std::string> users;
    std::vector<std::string> accept_env;
    Pos pos;
};

struct NodeAttrSpec {
    std::vector<Alias> target;
    std::vector<std::string> attr;
    std::vector<std::pair<std::string, nlohmann::json>> app;  // capability -> its values (an array or null)
    Pos pos;
};

struct PolicyTestSpec {
    Alias src;
    std::string src_text;
    int proto = 0;
    std::vector<std::pair<std::string, Pos>> accept;  // "host:port"
    std::vector<std::pair<std::string, Pos>> deny;
    Pos pos;
};

struct SshTestSpec {
    Alias src;
    std::vector<Alias> dst;
    std::vector<std::string> accept;
    std::vector<std::string> deny;
    std::vector<std::string> check;
    Pos pos;
};

struct ParsedPolicy {
    bool allow_all = false;  // empty file, or neither acls nor grants
    std::map<std::string, std::vector<Alias>> groups;
    std::map<std::string, Cidr> hosts;
    std::map<std::string, std::vector<Alias>> tag_owners;
    std::vector<Rule> rules;
    bool has_ssh = false;
    std::vector<SshRuleSpec> ssh;
    std::vector<std::pair<Cidr, std::vector<Alias>>> auto_routes;
    std::vector<Alias> auto_exit;
    std::vector<NodeAttrSpec> node_attrs;
    std::vector<PolicyTestSpec> tests;
    std::vector<SshTestSpec> ssh_tests;
    bool randomize_client_port = false;
};

// Parses and checks the whole file, collecting every problem. On problems, `out` is partial.
void parse_policy_text(std::string_view text, ParsedPolicy& out, std::vector<Problem>& problems);

// Helpers shared with the compiler and the tests.
std::optional<Alias> parse_alias(std::string_view text, Pos pos);
// "*", "22", "80-443", "22,80": false with Tailscale's message in `why` when malformed.
bool parse_ports(std::string_view text, std::vector<PortRange>& out, std::string* why = nullptr);
std::optional<int> parse_proto(std::string_view text);

}  // namespace hs::policy
