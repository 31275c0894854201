// hs-policy-captures: replays headscale's corpus of Tailscale SaaS captures through the
// policy engine and compares, per category, what each node would receive. Fails on any
// mismatch not listed in known_failures.cpp, and on any listed id that now passes.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "captures_load.h"
#include "captures_norm.h"
#include "common/policy/engine.h"

using namespace hs::policy;
using namespace hs::policy::captures;

const std::map<std::string, std::string>& known_failures();  // known_failures.cpp

namespace {

bool g_verbose = false;
int g_refusals = 0, g_same_message = 0;

void show_diff(const std::string& what, const std::set<std::string>& want, const std::set<std::string>& got) {
    if (!g_verbose) return;
    std::cout << "    " << what << ":\n";
    int shown = 0;
    for (const auto& w : want) {
        if (!got.count(w) && shown++ < 8) std::cout << "      - " << w << "\n";
    }
    for (const auto& g : got) {
        if (!want.count(g) && shown++ < 16) std::cout << "      + " << g << "\n";
    }
}

bool compare(const std::string& what, const std::set<std::string>& want, const std::set<std::string>& got) {
    if (want == got) return true;
    show_diff(what, want, got);
    return false;
}

// One capture: true when our output matches Tailscale's.
bool check_capture(const std::string& category, const nlohmann::json& c, std::string& note) {
    Topology topo = build_topology(c);
    std::string text = policy_text(c);
    bool refused_there = c["input"].value("api_response_code", 200) != 200;
    auto result = compile(text, topo.users, topo.nodes);
    if (result.ok()) {
        // Tailscale approved what autoApprovers allow before capturing; do the same.
        bool changed = false;
        for (Node& n : topo.nodes) {
            for (const std::string& r : result.compiled->auto_approved_routes(n.id)) {
                if (std::find(n.approved_routes.begin(), n.approved_routes.end(), r) == n.approved_routes.end()) {
                    n.approved_routes.push_back(r);
                    changed = true;
                }
            }
        }
        if (changed) result = compile(text, topo.users, topo.nodes);
    }
    if (refused_there) {
        if (!result.ok()) {
            // Informational: does one of our problems carry Tailscale's message?
            auto body = c["input"].value("api_response_body", nlohmann::json::object());
            std::string want = body.is_object() ? body.value("message", "") : "";
            bool same = false;
            for (const auto& p : result.problems)
                same = same || (!want.empty() && p.message.find(want) != std::string::npos);
            ++g_refusals;
            if (same) ++g_same_message;
            else if (g_verbose)
                std::cout << "    message: want \"" << want << "\" got \"" << result.problems.front().message << "\"\n";
            return true;
        }
        note = "Tailscale refused, we accepted";
        return false;
    }
    if (!result.ok()) {
        note = "we refused: " + result.problems.front().str();
        return false;
    }
    bool ok = true;
    for (const auto& [name, cap] : c["captures"].items()) {
        auto id = topo.id_by_name.find(name);
        if (id == topo.id_by_name.end()) continue;
        NodeView view = result.compiled->view(id->second, "https://unused");
        std::string where = name + " ";
        // Every capture is held to everything it recorded: SSH rules, filter, peers and
        // the nodeAttrs part of the CapMap.
        if (category == "ssh") {
            ok &= compare(where + "ssh", norm_ssh(cap.value("ssh_rules", nlohmann::json())),
                          norm_ssh(view.ssh_policy.is_null() ? nlohmann::json() : view.ssh_policy["rules"]));
        }
        if (category == "policytest" || category == "sshtest") continue;
        bool has_netmap = cap.contains("netmap") && cap["netmap"].is_object();
        if (has_netmap) {
            ok &= compare(where + "capmap", norm_caps(cap["netmap"]["SelfNode"].value("CapMap", nlohmann::json())),
                          norm_caps(view.cap_map));
            ok &= compare(where + "peers", norm_peers_want(cap["netmap"]), norm_peers_got(view, topo));
        }
        if (cap.contains("packet_filter_rules") || category != "nodeattrs") {
            ok &= compare(where + "filter", norm_filter(cap.value("packet_filter_rules", nlohmann::json())),
                          norm_filter(view.packet_filter));
        }
    }
    if (!ok) note = "output differs";
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    std::string only;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "-v")) g_verbose = true;
        else only = argv[i];
    }
    std::string why;
    std::string dir = find_testdata(why);
    if (dir.empty()) {
        std::cerr << "hs-policy-captures: " << why << "\n";
        return 1;
    }
    const auto& known = known_failures();
    std::set<std::string> seen_known;
    int unexpected = 0;
    // Each category's directory; issue_3212 holds two more routes captures (exit nodes with
    // approved exit routes, the only ones that show autogroup:internet on the wire).
    const std::pair<const char*, const char*> categories[] = {{"acl", "acl_results"},
                                                              {"grant", "grant_results"},
                                                              {"ssh", "ssh_results"},
                                                              {"nodeattrs", "nodeattrs_results"},
                                                              {"routes", "routes_results"},
                                                              {"routes-3212", "issue_3212"},
                                                              {"policytest", "policytest_results"},
                                                              {"sshtest", "sshtest_results"}};
    for (const auto& [cat, sub] : categories) {
        std::vector<std::string> files;
        for (const auto& e : std::filesystem::directory_iterator(dir + "/" + sub)) {
            if (e.path().extension() == ".hujson") files.push_back(e.path().string());
        }
        std::sort(files.begin(), files.end());
        int passed = 0, failed = 0;
        std::vector<std::string> fails;
        for (const std::string& f : files) {
            std::string id = std::filesystem::path(f).stem().string();
            if (!only.empty() && id.find(only) == std::string::npos) continue;
            auto c = read_capture(f);
            std::string note;
            if (g_verbose) std::cout << "  " << id << "\n";
            bool ok = check_capture(cat, c, note);
            bool listed = known.count(id) > 0;
            if (listed) seen_known.insert(id);
            if (ok) {
                ++passed;
                if (listed) {
                    std::cout << "  " << id << ": passes but is listed as a known failure; remove it\n";
                    ++unexpected;
                }
            } else {
                ++failed;
                fails.push_back(id + (listed ? " (known)" : "") + (note.empty() ? "" : ": " + note));
                if (!listed) ++unexpected;
            }
        }
        std::cout << cat << ": " << passed << " passed, " << failed << " failed\n";
        for (const auto& f : fails) std::cout << "  " << f << "\n";
    }
    if (only.empty()) {
        for (const auto& [id, reason] : known) {
            if (!seen_known.count(id)) {
                std::cout << "  " << id << ": listed as a known failure but no such capture\n";
                ++unexpected;
            }
        }
    }
    std::cout << "refusals with Tailscale's own message: " << g_same_message << " of " << g_refusals << "\n";
    std::cout << (unexpected ? "FAIL" : "OK") << ": " << unexpected << " unexpected result(s)\n";
    return unexpected ? 1 : 0;
}
