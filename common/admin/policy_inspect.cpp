// What the policy in force means for this tailnet: its tests, one node's packet filter, SSH
// policy and CapMap, its visible peers, and why traffic between two ends is allowed or denied.
// All read the store and compile the policy here; nothing is written.
#include <cctype>

#include "common/admin/policy_input.h"
#include "common/policy/explain.h"
#include "common/policy/ipset.h"
#include "common/policy/parse.h"

namespace hs::admin {
namespace {

// nlohmann::json (the engine's) to ordered_json (admin's); both keep the same values.
json ordered(const nlohmann::json& j) { return json::parse(j.dump()); }

json location_json(const policy::Location& l) {
    return {{"section", l.section}, {"index", l.index}, {"line", l.line}, {"column", l.column}};
}

// NODE as a node id, else a given name, else a hostname (what admins see in `nodes list`).
Node find_node_ref(Env& env, const std::string& ref) {
    if (ref.empty()) throw store::StoreError("missing node (an id or a name)");
    if (std::all_of(ref.begin(), ref.end(), [](unsigned char c) { return std::isdigit(c); })) {
        if (auto n = store::find_node(env.db, std::stoll(ref))) return *n;
    }
    std::optional<Node> by_host;
    for (auto& n : store::list_nodes(env.db)) {
        if (n.given_name == ref) return n;
        if (n.hostname == ref && !by_host) by_host = n;
    }
    if (by_host) return *by_host;
    throw store::NotFound("node \"" + ref + "\" not found");
}

json node_ref_json(const Node& n) { return {{"id", n.id}, {"given_name", n.given_name}}; }

json policy_test(Env& env, const Params& p) {
    const auto compiled = compile_current(env);
    auto tests = json::array();
    bool all = true;
    for (const auto& t : policy::run_tests(*compiled, p.list("tests"))) {
        auto failures = json::array();
        for (const auto& f : t.failures) failures.push_back(problem_lines({f}));
        all = all && t.passed();
        auto o = location_json(t.place);
        o["src"] = t.src;
        o["passed"] = t.passed();
        o["failures"] = std::move(failures);
        tests.push_back(std::move(o));
    }
    return {{"passed", all}, {"tests", std::move(tests)}};
}

json policy_filter(Env& env, const Params& p) {
    const auto n = find_node_ref(env, p.str("node"));
    const auto view = compile_current(env)->view(static_cast<std::uint64_t>(n.id), env.cfg.server_url);
    return {{"node", node_ref_json(n)},
            {"packet_filter", ordered(view.packet_filter)},
            {"ssh_policy", ordered(view.ssh_policy)},
            {"cap_map", ordered(view.cap_map)}};
}

json policy_peers(Env& env, const Params& p) {
    const auto n = find_node_ref(env, p.str("node"));
    const auto view = compile_current(env)->view(static_cast<std::uint64_t>(n.id), env.cfg.server_url);
    auto peers = json::array();
    for (const auto& peer : view.peers) {
        const auto row = store::find_node(env.db, static_cast<std::int64_t>(peer.node_id));
        peers.push_back({{"id", peer.node_id},
                         {"given_name", row ? row->given_name : ""},
                         {"allowed_ips", peer.allowed_ips},
                         {"cap_map", ordered(peer.cap_map)}});
    }
    return peers;
}

// "web:80", "[fd7a::1]:22", "100.64.0.2", "tag:db": the host, and a port when the text ends in
// one (a bare IPv6 address ends in digits too, so a whole address is never split).
void split_target(const std::string& text, std::string& host, std::optional<int>& port) {
    host = text;
    port.reset();
    if (policy::parse_addr(text)) return;
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 == text.size()) return;
    const auto digits = text.substr(colon + 1);
    if (digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos) return;
    const int value = std::stoi(digits);
    if (value > 65535) throw store::StoreError("port " + digits + " is out of range");
    host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    port = value;
}

json verdict_json(const policy::PairVerdict& v) {
    auto others = json::array();
    for (const auto& l : v.other_ports) others.push_back(location_json(l));
    return {{"src", v.src},
            {"dst", v.dst},
            {"allowed", v.allowed},
            {"rule", v.rule ? location_json(*v.rule) : json(nullptr)},
            {"other_ports", std::move(others)}};
}

json policy_explain(Env& env, const Params& p) {
    const auto src = p.str("src"), dst_text = p.str("dst"), proto_text = p.str("proto");
    if (src.empty() || dst_text.empty()) throw store::StoreError("explain needs a source and a destination");
    std::string dst;
    std::optional<int> port;
    split_target(dst_text, dst, port);
    const auto proto = proto_text.empty() ? std::optional<int>(0) : policy::parse_proto(proto_text);
    if (!proto) throw store::StoreError("unknown protocol \"" + proto_text + "\"");
    const auto e = policy::explain(*compile_current(env), src, dst, port, *proto);
    if (!e.problems.empty()) throw store::NotFound(problem_lines(e.problems));
    auto pairs = json::array();
    std::size_t allowed = 0;
    for (const auto& v : e.pairs) {
        allowed += v.allowed;
        pairs.push_back(verdict_json(v));
    }
    const char* decision = e.allowed() ? "allowed" : allowed ? "partly allowed" : "denied";
    return {{"src", src},
            {"dst", dst},
            {"port", port ? json(*port) : json(nullptr)},
            {"proto", proto_text.empty() ? "tcp" : proto_text},
            {"decision", decision},
            {"allowed", e.allowed()},
            {"src_nodes", e.src_nodes},
            {"dst_nodes", e.dst_nodes},
            {"pairs", std::move(pairs)},
            {"truncated", e.truncated}};
}

}  // namespace

void add_policy_inspect_ops(OpTable& t) {
    t.push_back({"policy.test", "POST", "/api/v1/policy/test", policy_test});
    t.push_back({"policy.filter", "GET", "/api/v1/policy/filter/{node}", policy_filter});
    t.push_back({"policy.peers", "GET", "/api/v1/policy/peers/{node}", policy_peers});
    t.push_back({"policy.explain", "GET", "/api/v1/policy/explain", policy_explain});
}

}  // namespace hs::admin
