// The sign-in events derived from a sequence of audit rows (events.h). The rows' vocabulary is
// the one every sign-in path writes (signin.succeeded / signin.failed / signin.locked, with
// the network in "after"), so this file reads only that contract, not the sign-in code.
#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "common/admin/events.h"
#include "common/admin/ops.h"

namespace hs::admin {

const std::vector<std::string>& event_names() {
    static const std::vector<std::string> names = {
        "apikey.created",     "policy.changed",        "node.registered", "node.deleted",
        "signin.new_network", "signin.after_failures", "signin.locked",
    };
    return names;
}

std::string network_of(std::string_view address) {
    std::string a(address);
    if (a.size() > 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
    unsigned char bytes[16];
    char text[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET, a.c_str(), bytes) == 1) {
        bytes[3] = 0;
        inet_ntop(AF_INET, bytes, text, sizeof text);
        return std::string(text) + "/24";
    }
    if (inet_pton(AF_INET6, a.c_str(), bytes) == 1) {
        // An IPv4-mapped address is an IPv4 client behind a dual-stack socket.
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::memcmp(bytes, mapped, 12) == 0) {
            bytes[15] = 0;
            inet_ntop(AF_INET, bytes + 12, text, sizeof text);
            return std::string(text) + "/24";
        }
        std::memset(bytes + 8, 0, 8);
        inet_ntop(AF_INET6, bytes, text, sizeof text);
        return std::string(text) + "/64";
    }
    return "";
}

namespace {

// The network a signin.succeeded row names in "after", else the one its source is in.
std::string network_of_row(const store::AuditEntry& e) {
    if (e.after) {
        const auto j = json::parse(*e.after, nullptr, false);
        if (j.is_object() && j.contains("network") && j["network"].is_string()) {
            // Normalised through network_of so "10.0.0.7/24" and "10.0.0.0/24" are one network.
            const auto n = j["network"].get<std::string>();
            const auto slash = n.find('/');
            const auto norm = network_of(n.substr(0, slash));
            if (!norm.empty()) return norm;
        }
    }
    return network_of(e.source);
}

}  // namespace

template <class Map>
void EventDeriver::evict_oldest(Map& m, std::size_t limit) {
    while (m.size() > limit) {
        auto oldest = std::min_element(m.begin(), m.end(),
                                       [](const auto& a, const auto& b) { return a.second.used < b.second.used; });
        m.erase(oldest);
    }
}

void EventDeriver::on_success(const store::AuditEntry& e, std::vector<DerivedEvent>& out) {
    const auto net = network_of_row(e);
    if (!net.empty()) {
        const bool known_account = accounts_.count(e.object) > 0;
        auto& acc = accounts_[e.object];
        acc.used = ++tick_;
        auto it = std::find(acc.networks.begin(), acc.networks.end(), net);
        if (it != acc.networks.end()) {
            acc.networks.erase(it);
        } else if (known_account) {
            out.push_back({"signin.new_network", {{"network", net}, {"known_networks", acc.networks.size()}}});
        }
        acc.networks.push_back(net);
        while (acc.networks.size() > limits_.networks_per_account) acc.networks.pop_front();
        evict_oldest(accounts_, limits_.accounts);
    }
    auto f = failures_.find(e.object);
    if (f == failures_.end()) return;
    const auto from = e.at - kFailureWindow;
    const auto n = std::count_if(f->second.at.begin(), f->second.at.end(), [&](TimePoint t) { return t >= from; });
    if (n > 0) out.push_back({"signin.after_failures", {{"failures", n}, {"window_seconds", 15 * 60}}});
    // A success ends the streak: the next success raises nothing unless new failures come.
    failures_.erase(f);
}

void EventDeriver::on_failure(const store::AuditEntry& e) {
    auto& f = failures_[e.object];
    f.used = ++tick_;
    f.at.push_back(e.at);
    const auto from = e.at - kFailureWindow;
    while (!f.at.empty() && (f.at.front() < from || f.at.size() > limits_.failures_per_object)) f.at.pop_front();
    evict_oldest(failures_, limits_.failing_objects);
}

std::vector<DerivedEvent> EventDeriver::feed(const store::AuditEntry& e) {
    std::vector<DerivedEvent> out;
    if (auto kind = event_kind(e.action)) out.push_back({*kind});
    if (e.action == "signin.succeeded") on_success(e, out);
    if (e.action == "signin.failed") on_failure(e);
    return out;
}

}  // namespace hs::admin
