#include "tools/hs-derper/bootstrap_dns.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <nlohmann/json.hpp>

#include "common/base/cli.h"
#include "common/base/log.h"
#include "common/base/url.h"

namespace hs::derper {
namespace {

// Every address of `name`, IPv4 and IPv6, each once, in the resolver's order.
std::vector<std::string> resolve(const std::string& name, std::string& error) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const int rc = getaddrinfo(name.c_str(), nullptr, &hints, &res);
    std::vector<std::string> out;
    if (rc != 0) {
        error = gai_strerror(rc);
        return out;
    }
    for (auto* p = res; p; p = p->ai_next) {
        char buf[INET6_ADDRSTRLEN] = {};
        const void* a = p->ai_family == AF_INET
                            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr)
                            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr);
        if (!inet_ntop(p->ai_family, a, buf, sizeof buf)) continue;
        if (std::find(out.begin(), out.end(), buf) == out.end()) out.emplace_back(buf);
    }
    freeaddrinfo(res);
    return out;
}

}  // namespace

BootstrapDns::BootstrapDns(const std::string& published, const std::string& unpublished)
    : published_(split_comma_list(published)) {
    for (auto& n : split_comma_list(unpublished)) unpublished_.insert(std::move(n));
}

void BootstrapDns::refresh() {
    std::vector<std::string> names = published_;
    names.insert(names.end(), unpublished_.begin(), unpublished_.end());
    for (const auto& name : names) {
        std::string error;
        auto addrs = resolve(name, error);
        if (addrs.empty()) {
            spdlog::warn("bootstrap-dns: cannot resolve {}: {}", name, error.empty() ? "no addresses" : error);
            continue;
        }
        std::lock_guard lk(mu_);
        addrs_[name] = std::move(addrs);
    }
}

std::string BootstrapDns::answer(std::string_view query) const {
    if (!enabled()) return {};
    nlohmann::json j = nlohmann::json::object();
    std::lock_guard lk(mu_);
    for (const auto& name : published_)
        if (auto it = addrs_.find(name); it != addrs_.end()) j[name] = it->second;
    // Unpublished names are only for clients that already know to ask for them.
    const auto q = query_value(query, "q").value_or("");
    if (unpublished_.count(q))
        if (auto it = addrs_.find(q); it != addrs_.end()) j[q] = it->second;
    return j.dump();
}

}  // namespace hs::derper
