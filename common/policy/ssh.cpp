// SSH rules per destination node (§4.6): principals are the source nodes' addresses grouped
// by owner (a tagged source once per tag), the login map names root, "*" for nonroot and each
// literal user, and localpart:*@domain adds one rule per matching user mapping their local part.
#include <algorithm>
#include <map>

#include "common/policy/aliases.h"
#include "common/policy/compiled.h"

namespace hs::policy {

namespace {

using nlohmann::json;

// The check period is not sent: the server applies it when the check is approved.
json action_json(const SshRuleSpec& s, const std::string& server_url) {
    if (!s.check) {
        return {{"accept", true},
                {"allowAgentForwarding", true},
                {"allowLocalPortForwarding", true},
                {"allowRemotePortForwarding", true}};
    }
    json a{{"holdAndDelegate", server_url + "/machine/ssh/action/$SRC_NODE_ID/to/$DST_NODE_ID?local_user=$LOCAL_USER"}};
    return a;
}

// "localpart:*@domain" with a plain domain; Tailscale ignores malformed localpart entries.
bool well_formed_localpart(const std::string& u) {
    if (u.rfind("localpart:*@", 0) != 0 || u.size() <= 12) return false;
    return u.find_first_of("*@", 12) == std::string::npos;
}

json login_map(const SshRuleSpec& s) {
    json m = json::object();
    bool root = false;
    for (const std::string& u : s.users) {
        if (u == "root") root = true;
        else if (u == "autogroup:nonroot") m["*"] = "=";
        else if (!well_formed_localpart(u)) m[u] = u;  // malformed localpart: is a literal name to Tailscale
    }
    m["root"] = root ? "root" : "";
    return m;
}

// Source nodes grouped the way Tailscale groups principals: by owning user, tagged nodes by tag.
std::map<std::string, std::vector<int>> group_sources(const CompiledImpl& c, const std::vector<int>& src) {
    std::map<std::string, std::vector<int>> groups;
    for (int i : src) {
        const NodeInfo& n = c.nodes[static_cast<std::size_t>(i)];
        if (n.tagged) {
            for (const std::string& t : n.rec.tags) groups[t].push_back(i);
        } else {
            groups["user:" + std::to_string(n.user)].push_back(i);
        }
    }
    return groups;
}

json principals(const CompiledImpl& c, const std::vector<int>& nodes) {
    json p = json::array();
    for (int i : nodes) {
        for (u128 a : c.nodes[static_cast<std::size_t>(i)].addrs) p.push_back({{"nodeIP", addr_str(a)}});
    }
    return p;
}

bool has_localpart(const SshRuleSpec& s) { return std::any_of(s.users.begin(), s.users.end(), well_formed_localpart); }

void add_localpart_rules(const CompiledImpl& c, const SshRuleSpec& s, const std::vector<int>& group, const json& action,
                         json& rules) {
    const NodeInfo& first = c.nodes[static_cast<std::size_t>(group.front())];
    if (first.tagged || first.user < 0) return;
    const std::string& email = c.users[static_cast<std::size_t>(first.user)].email;
    auto at = email.find('@');
    if (at == std::string::npos) return;
    for (const std::string& u : s.users) {
        if (!well_formed_localpart(u) || email.substr(at + 1) != u.substr(12)) continue;
        std::string local = email.substr(0, at);
        json rule{{"principals", principals(c, group)}, {"sshUsers", {{local, local}}}, {"action", action}};
        if (!s.accept_env.empty()) rule["acceptEnv"] = s.accept_env;
        rules.push_back(std::move(rule));
    }
}

void emit(const CompiledImpl& c, const SshCompiled& sc, std::size_t node, const std::string& url, json& rules) {
    const NodeInfo& me = c.nodes[node];
    bool localpart = has_localpart(*sc.spec);
    std::vector<int> src;
    for (std::size_t k = 0; k < sc.src_nodes.size(); ++k) {
        int i = sc.src_nodes[k];
        const NodeInfo& n = c.nodes[static_cast<std::size_t>(i)];
        // autogroup:self reaches a node only from its owner's own devices. Tailscale also
        // lets a localpart: rule's source users reach their own devices.
        bool own = me.tagged ? static_cast<std::size_t>(i) == node : (n.user == me.user && !n.tagged);
        if (sc.dst_nodes.test(node) || ((sc.self || localpart) && own))
            src.insert(src.end(), static_cast<std::size_t>(sc.src_times[k]), i);
    }
    if (src.empty()) return;
    json action = action_json(*sc.spec, url);
    // Principals share one rule unless localpart: needs each user's login name apart.
    std::map<std::string, std::vector<int>> groups;
    if (localpart) {
        groups = group_sources(c, src);
    } else {
        groups[""] = src;
    }
    for (const auto& [key, group] : groups) {
        json rule{{"principals", principals(c, group)}, {"sshUsers", login_map(*sc.spec)}, {"action", action}};
        if (!sc.spec->accept_env.empty()) rule["acceptEnv"] = sc.spec->accept_env;
        rules.push_back(std::move(rule));
        add_localpart_rules(c, *sc.spec, group, action, rules);
    }
}

}  // namespace

void compile_ssh(CompiledImpl& c, const Resolver& res) {
    for (const SshRuleSpec& s : c.policy.ssh) {
        SshCompiled sc;
        sc.spec = &s;
        sc.dst_nodes = Bits(c.nodes.size());
        // Tailscale expands autogroup:tagged tag by tag, so a node with several tags is a
        // principal once per tag; any other alias counts a node once.
        std::map<int, int> times;
        for (const Alias& a : s.src) {
            bool per_tag = a.kind == Alias::Kind::autogroup && a.name == "tagged";
            for (int i : res.nodes_of(a)) {
                int n = per_tag ? static_cast<int>(c.nodes[static_cast<std::size_t>(i)].rec.tags.size()) : 1;
                times[i] = std::max(times[i], n);
            }
        }
        for (const auto& [i, n] : times) {
            sc.src_nodes.push_back(i);
            sc.src_times.push_back(n);
        }
        for (const Alias& a : s.dst) {
            if (a.kind == Alias::Kind::autogroup && a.name == "self") {
                sc.self = true;
                continue;
            }
            for (int i : res.nodes_of(a)) sc.dst_nodes.set(static_cast<std::size_t>(i));
        }
        c.ssh.push_back(std::move(sc));
    }
}

nlohmann::json ssh_policy_for(const CompiledImpl& c, std::size_t node, const std::string& server_url) {
    if (!c.policy.has_ssh) return nullptr;
    json rules = json::array();
    // Check rules come first so a session that must re-authenticate is not accepted early.
    for (bool check : {true, false}) {
        for (const SshCompiled& sc : c.ssh) {
            if (sc.spec->check == check) emit(c, sc, node, server_url, rules);
        }
    }
    return json{{"rules", rules}};
}

}  // namespace hs::policy
