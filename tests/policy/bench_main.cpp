// hs-policy-bench: times a full compile of a large tailnet (10,000 nodes, 500 ACL lines over
// groups, tags and users), then the per-node views. Prints figures; asserts nothing.
#include <chrono>
#include <cstdio>
#include <string>

#include "common/policy/engine.h"

using namespace hs::policy;

int main(int argc, char** argv) {
    int n_nodes = argc > 1 ? std::atoi(argv[1]) : 10000;
    int n_lines = argc > 2 ? std::atoi(argv[2]) : 500;
    int n_users = n_nodes / 4;
    std::vector<User> users;
    for (int u = 1; u <= n_users; ++u) users.push_back({static_cast<std::uint64_t>(u), "user" + std::to_string(u), "user" + std::to_string(u) + "@example.com", "", ""});
    std::vector<Node> nodes;
    for (int i = 0; i < n_nodes; ++i) {
        Node n;
        n.id = static_cast<std::uint64_t>(i + 1);
        n.given_name = "node" + std::to_string(i);
        if (i % 5 == 0) n.tags = {"tag:t" + std::to_string(i % 50)};
        else n.user_id = static_cast<std::uint64_t>(i % n_users + 1);
        n.ipv4 = "100." + std::to_string(64 + i / 65536) + "." + std::to_string((i / 256) % 256) + "." + std::to_string(i % 256);
        n.ipv6 = "fd7a:115c:a1e0::" + std::to_string(i / 65536) + ":" + std::to_string(i % 65536);
        nodes.push_back(std::move(n));
    }
    std::string pol = "{\"groups\": {";
    for (int g = 0; g < 100; ++g) {
        pol += (g ? "," : "") + std::string("\"group:g") + std::to_string(g) + "\": [";
        for (int k = 0; k < 10; ++k) pol += (k ? "," : "") + std::string("\"user") + std::to_string((g * 10 + k) % n_users + 1) + "@\"";
        pol += "]";
    }
    pol += "}, \"tagOwners\": {";
    for (int t = 0; t < 50; ++t) pol += (t ? "," : "") + std::string("\"tag:t") + std::to_string(t) + "\": [\"group:g0\"]";
    pol += "}, \"acls\": [";
    for (int l = 0; l < n_lines; ++l) {
        std::string src = l % 3 == 0 ? "group:g" + std::to_string(l % 100) : l % 3 == 1 ? "user" + std::to_string(l % n_users + 1) + "@" : "tag:t" + std::to_string(l % 50);
        std::string dst = l % 2 ? "tag:t" + std::to_string((l * 7) % 50) + ":22,443" : "group:g" + std::to_string((l * 3) % 100) + ":80";
        pol += (l ? "," : "") + std::string("{\"action\": \"accept\", \"src\": [\"") + src + "\"], \"dst\": [\"" + dst + "\"]}";
    }
    pol += "]}";
    auto t0 = std::chrono::steady_clock::now();
    auto r = compile(pol, users, nodes);
    auto t1 = std::chrono::steady_clock::now();
    if (!r.ok()) {
        std::fprintf(stderr, "refused: %s\n", r.problems.front().str().c_str());
        return 1;
    }
    std::size_t rules = 0, peers = 0;
    for (const Node& n : nodes) {
        auto v = r.compiled->view(n.id, "https://hs");
        rules += v.packet_filter.size();
        peers += v.peers.size();
    }
    auto t2 = std::chrono::steady_clock::now();
    auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
    std::printf("%d nodes, %d acl lines: compile %.1f ms; all %d views %.1f ms (%zu filter rules, %zu peer entries)\n", n_nodes, n_lines,
                ms(t0, t1), n_nodes, ms(t1, t2), rules, peers);
    return 0;
}
