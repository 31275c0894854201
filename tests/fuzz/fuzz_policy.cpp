// The policy engine on arbitrary text: parse, compile against a small tailnet, and render
// every node's view. Refusals are fine; crashes, hangs and sanitizer reports are not.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/policy/engine.h"

using namespace hs::policy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::vector<User> users = {{1, "alice", "alice@example.com", "", ""},
                                            {2, "bob", "bob@example.org", "", ""}};
    static const std::vector<Node> nodes = {
        {1, 1, "a", "a", {}, "100.64.0.1", "fd7a:115c:a1e0::1", {}, {}, {}},
        {2, 2, "b", "b", {}, "100.64.0.2", "fd7a:115c:a1e0::2", {}, {}, {}},
        {3,
         0,
         "srv",
         "srv",
         {"tag:server"},
         "100.64.0.3",
         "fd7a:115c:a1e0::3",
         {"10.0.0.0/24"},
         {"10.0.0.0/24"},
         {"10.0.0.0/24"}},
        {4,
         0,
         "exit",
         "exit",
         {"tag:exit"},
         "100.64.0.4",
         "fd7a:115c:a1e0::4",
         {"0.0.0.0/0", "::/0"},
         {"0.0.0.0/0", "::/0"},
         {}},
    };
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto r = compile(text, users, nodes);
    if (!r.ok()) return 0;
    for (const Node& n : nodes) {
        auto v = r.compiled->view(n.id, "https://hs");
        (void)v.packet_filter.dump();
        (void)r.compiled->auto_approved_routes(n.id);
    }
    return 0;
}
