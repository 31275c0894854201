// /bootstrap-dns: what a client asks when its own DNS is broken. hs-derper resolves the names
// given with --bootstrap-dns-names (answered to every request) and
// --unpublished-bootstrap-dns-names (answered only to ?q=<that name>) every 10 minutes, and
// answers with a JSON object mapping each name to its addresses, as derper does.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace hs::derper {

class BootstrapDns {
public:
    // Comma lists; empty entries are ignored.
    BootstrapDns(const std::string& published, const std::string& unpublished);

    bool enabled() const { return !published_.empty() || !unpublished_.empty(); }
    // Resolves every name (blocking, one getaddrinfo each). A name that fails keeps its last
    // good addresses, so a DNS hiccup does not empty the answer.
    void refresh();
    // The body for a request whose query is `query` (the part after '?', may be empty).
    // Empty when nothing is configured, like derper.
    std::string answer(std::string_view query) const;

private:
    std::vector<std::string> published_;
    std::set<std::string> unpublished_;
    mutable std::mutex mu_;
    std::map<std::string, std::vector<std::string>> addrs_;
};

}  // namespace hs::derper
