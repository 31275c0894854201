// hs-policy-bench: times a full compile of a large tailnet, then the per-node views. Prints
// figures; asserts nothing.
//
//   hs-policy-bench [NODES [LINES]]          a synthetic tailnet (10,000 nodes, 500 ACL lines)
//   hs-policy-bench --company DIR [--runs K] the company of `hs-loadgen policy-gen --out DIR`
//                                            (DIR/topology.txt, policy.json, policy-after.json)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/policy/engine.h"

using namespace hs::policy;

namespace {

void set_ips(Node& n, int i) {
    n.ipv4 =
        "100." + std::to_string(64 + i / 65536) + "." + std::to_string((i / 256) % 256) + "." + std::to_string(i % 256);
    n.ipv6 = "fd7a:115c:a1e0::" + std::to_string(i / 65536) + ":" + std::to_string(i % 65536);
}

double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

bool read_file(const std::string& path, std::string& out) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return false;
    std::stringstream ss;
    ss << f.rdbuf();
    out = ss.str();
    return true;
}

// topology.txt: "user ID NAME" and "node ID USER_ID|- TAG,TAG|-" lines; '#' starts a comment.
bool read_topology(const std::string& path, std::vector<User>& users, std::vector<Node>& nodes) {
    std::ifstream f(path);
    if (!f) return false;
    std::string line;
    while (std::getline(f, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream ls(line);
        std::string kind;
        ls >> kind;
        if (kind == "user") {
            User u;
            ls >> u.id >> u.name;
            users.push_back(std::move(u));
        } else if (kind == "node") {
            Node n;
            std::string user, tags;
            ls >> n.id >> user >> tags;
            if (user != "-") n.user_id = std::stoull(user);
            if (tags != "-") {
                std::stringstream ts(tags);
                for (std::string t; std::getline(ts, t, ',');) n.tags.push_back(t);
            }
            n.given_name = "node" + std::to_string(n.id);
            set_ips(n, static_cast<int>(n.id) - 1);
            nodes.push_back(std::move(n));
        } else {
            std::fprintf(stderr, "%s: unknown line: %s\n", path.c_str(), line.c_str());
            return false;
        }
    }
    return true;
}

// One full compile and every node's view; the median and largest peer count.
int time_policy(const char* what, const std::string& pol, const std::vector<User>& users,
                const std::vector<Node>& nodes, int runs) {
    std::vector<double> compile_ms, views_ms;
    std::size_t rules = 0, peers = 0, peers_p50 = 0, peers_max = 0;
    for (int k = 0; k < runs; ++k) {
        auto t0 = std::chrono::steady_clock::now();
        auto r = compile(pol, users, nodes);
        auto t1 = std::chrono::steady_clock::now();
        if (!r.ok()) {
            std::fprintf(stderr, "%s: refused: %s\n", what, r.problems.front().str().c_str());
            return 1;
        }
        rules = peers = 0;
        std::vector<std::size_t> counts;
        for (const Node& n : nodes) {
            auto v = r.compiled->view(n.id, "https://hs");
            rules += v.packet_filter.size();
            peers += v.peers.size();
            counts.push_back(v.peers.size());
        }
        auto t2 = std::chrono::steady_clock::now();
        std::sort(counts.begin(), counts.end());
        peers_p50 = counts[counts.size() / 2];
        peers_max = counts.back();
        compile_ms.push_back(ms_between(t0, t1));
        views_ms.push_back(ms_between(t1, t2));
    }
    std::sort(compile_ms.begin(), compile_ms.end());
    std::sort(views_ms.begin(), views_ms.end());
    std::printf(
        "%s: %zu nodes: compile %.1f ms (median of %d; min %.1f, max %.1f); all %zu views %.1f ms; %zu filter rules, "
        "%zu peer entries, peers per node p50 %zu, max %zu\n",
        what, nodes.size(), compile_ms[compile_ms.size() / 2], runs, compile_ms.front(), compile_ms.back(),
        nodes.size(), views_ms[views_ms.size() / 2], rules, peers, peers_p50, peers_max);
    return 0;
}

int company(const std::string& dir, int runs) {
    std::vector<User> users;
    std::vector<Node> nodes;
    std::string before, after;
    if (!read_topology(dir + "/topology.txt", users, nodes) || !read_file(dir + "/policy.json", before) ||
        !read_file(dir + "/policy-after.json", after)) {
        std::fprintf(stderr, "hs-policy-bench: cannot read %s/{topology.txt,policy.json,policy-after.json}\n",
                     dir.c_str());
        return 1;
    }
    std::printf("company %s: %zu users, %zu nodes\n", dir.c_str(), users.size(), nodes.size());
    if (int rc = time_policy("policy.json", before, users, nodes, runs)) return rc;
    return time_policy("policy-after.json", after, users, nodes, runs);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 2 && std::strcmp(argv[1], "--company") == 0) {
        int runs = argc > 4 && std::strcmp(argv[3], "--runs") == 0 ? std::max(1, std::atoi(argv[4])) : 5;
        return company(argv[2], runs);
    }
    int n_nodes = argc > 1 ? std::atoi(argv[1]) : 10000;
    int n_lines = argc > 2 ? std::atoi(argv[2]) : 500;
    int n_users = n_nodes / 4;
    std::vector<User> users;
    for (int u = 1; u <= n_users; ++u)
        users.push_back({static_cast<std::uint64_t>(u), "user" + std::to_string(u),
                         "user" + std::to_string(u) + "@example.com", "", ""});
    std::vector<Node> nodes;
    for (int i = 0; i < n_nodes; ++i) {
        Node n;
        n.id = static_cast<std::uint64_t>(i + 1);
        n.given_name = "node" + std::to_string(i);
        if (i % 5 == 0) n.tags = {"tag:t" + std::to_string(i % 50)};
        else n.user_id = static_cast<std::uint64_t>(i % n_users + 1);
        set_ips(n, i);
        nodes.push_back(std::move(n));
    }
    std::string pol = "{\"groups\": {";
    for (int g = 0; g < 100; ++g) {
        pol += (g ? "," : "") + std::string("\"group:g") + std::to_string(g) + "\": [";
        for (int k = 0; k < 10; ++k)
            pol += (k ? "," : "") + std::string("\"user") + std::to_string((g * 10 + k) % n_users + 1) + "@\"";
        pol += "]";
    }
    pol += "}, \"tagOwners\": {";
    for (int t = 0; t < 50; ++t)
        pol += (t ? "," : "") + std::string("\"tag:t") + std::to_string(t) + "\": [\"group:g0\"]";
    pol += "}, \"acls\": [";
    for (int l = 0; l < n_lines; ++l) {
        std::string src = l % 3 == 0   ? "group:g" + std::to_string(l % 100)
                          : l % 3 == 1 ? "user" + std::to_string(l % n_users + 1) + "@"
                                       : "tag:t" + std::to_string(l % 50);
        std::string dst = l % 2 ? "tag:t" + std::to_string((l * 7) % 50) + ":22,443"
                                : "group:g" + std::to_string((l * 3) % 100) + ":80";
        pol += (l ? "," : "") + std::string("{\"action\": \"accept\", \"src\": [\"") + src + "\"], \"dst\": [\"" + dst +
               "\"]}";
    }
    pol += "]}";
    char what[64];
    std::snprintf(what, sizeof what, "synthetic, %d acl lines", n_lines);
    return time_policy(what, pol, users, nodes, 1);
}
