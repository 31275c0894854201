// hs-admin policy test|filter|peers|explain: what the policy in force means for this tailnet.
// JSON formats print the operation's result as is; the table format turns it into lines a
// person reads top-down (a decision first, then its reasons).
#include <memory>
#include <vector>

#include "tools/hs-admin/commands.h"

namespace hs::admin {
namespace {

std::string where(const json& l) {
    const auto section = l.value("section", "");
    if (section == "default") return "the implicit allow-all (the policy has no acls and no grants)";
    std::string s = section + "[" + std::to_string(l.value("index", -1)) + "]";
    if (l.value("line", 0) > 0) s += " (line " + std::to_string(l.value("line", 0)) + ")";
    return s;
}

std::string tests_text(const json& r) {
    std::string out;
    for (const auto& t : r["tests"]) {
        out +=
            std::string(t.value("passed", false) ? "PASS " : "FAIL ") + where(t) + " src " + t.value("src", "") + "\n";
        for (const auto& f : t["failures"]) out += "     " + f.get<std::string>() + "\n";
    }
    out += r.value("passed", false) ? "all tests passed" : "some tests failed";
    return out;
}

std::string explain_text(const json& r) {
    std::string dst = r.value("dst", "");
    if (r["port"].is_number()) dst += ":" + std::to_string(r["port"].get<int>());
    std::string out =
        r.value("decision", "") + ": " + r.value("src", "") + " -> " + dst + " (" + r.value("proto", "") + ")";
    if (r["pairs"].empty()) out += "\n  no pair of distinct source and destination addresses of one family";
    for (const auto& p : r["pairs"]) {
        out += "\n  " + p.value("src", "") + " -> " + p.value("dst", "") + ": ";
        if (p.value("allowed", false)) {
            out += "allowed by " + where(p["rule"]);
            continue;
        }
        out += "denied, no rule matches";
        for (const auto& o : p["other_ports"])
            out += "\n    " + where(o) + " allows these ends on other ports or protocols";
    }
    if (r.value("truncated", false)) out += "\n  (stopped after " + std::to_string(r["pairs"].size()) + " pairs)";
    return out;
}

std::string filter_text(const json& r) {
    return "node " + std::to_string(r["node"].value("id", 0)) + " (" + r["node"].value("given_name", "") + ")\n" +
           "packet filter:\n" + r["packet_filter"].dump(2) + "\nssh policy:\n" + r["ssh_policy"].dump(2) +
           "\ncap map:\n" + r["cap_map"].dump(2);
}

CLI::App* node_verb(CLI::App& noun, Context& ctx, Actions& actions, const char* name, const char* help,
                    std::function<void(Context&, const json&)> print) {
    auto node = std::make_shared<std::string>();
    auto* cmd = add_verb(noun, name, help);
    cmd->add_option("node,-i,--identifier,--node", *node, "Node ID or name")->required();
    actions[cmd] = [&ctx, node, name, print] {
        print(ctx, ctx.call(std::string("policy.") + name, {{"node", *node}}));
        return 0;
    };
    return cmd;
}

}  // namespace

void add_policy_inspect(CLI::App& noun, Context& ctx, Actions& actions) {
    auto extra = std::make_shared<std::vector<std::string>>();
    auto* test = add_verb(noun, "test", "Run the policy's tests and sshTests (and --test ones) against this tailnet");
    test->add_option("--test", *extra,
                     "An extra test, as in tests: '{\"src\":\"alice@\",\"accept\":[\"tag:web:80\"]}' (repeatable)");
    actions[test] = [&ctx, extra] {
        const auto r = ctx.call("policy.test", {{"tests", *extra}});
        print_text(ctx.format(), r, tests_text(r));
        return r.value("passed", false) ? 0 : 1;
    };
    node_verb(noun, ctx, actions, "filter", "The packet filter, SSH policy and CapMap a node receives",
              [](Context& c, const json& r) { print_text(c.format(), r, filter_text(r)); });
    node_verb(noun, ctx, actions, "peers", "The peers a node sees, with their AllowedIPs",
              [](Context& c, const json& r) {
                  print_list(c.format(), r,
                             {field("ID", "id"), field("Name", "given_name"), field("AllowedIPs", "allowed_ips")});
              });
    struct Ends {
        std::string src, dst, proto;
    };
    auto e = std::make_shared<Ends>();
    auto* explain = add_verb(noun, "explain", "Is SRC allowed to reach DST[:PORT], and by which rule");
    explain->add_option("src", e->src, "Node name, IP, user@, group:, tag: or host")->required();
    explain->add_option("dst", e->dst, "The same, with :PORT to ask about one port")->required();
    explain->add_option("--proto", e->proto, "tcp (default), udp, icmp, ... or a protocol number");
    actions[explain] = [&ctx, e] {
        json p = {{"src", e->src}, {"dst", e->dst}};
        if (!e->proto.empty()) p["proto"] = e->proto;
        const auto r = ctx.call("policy.explain", p);
        print_text(ctx.format(), r, explain_text(r));
        return 0;
    };
}

}  // namespace hs::admin
