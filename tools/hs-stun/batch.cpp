#include "tools/hs-stun/batch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/stun/net/batch.h"
#include "common/base/netaddr.h"

namespace hs::stunsrv {
namespace {

[[noreturn]] void sys_fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

}  // namespace

BatchServer::BatchServer(const std::string& addr) {
    const auto hp = parse_host_port(addr);
    if (!hp) throw std::runtime_error("--addr: expected HOST:PORT or :PORT, got \"" + addr + "\"");
    sockaddr_storage ss{};
    socklen_t len = 0;
    std::optional<IpAddr> ip;
    if (!hp->host.empty()) {
        ip = parse_ip(hp->host);
        if (!ip) throw std::runtime_error("--addr: \"" + hp->host + "\" is not an IP address");
    }
    wildcard_ = !ip;
    if (ip && !ip->v6) {
        auto& s4 = reinterpret_cast<sockaddr_in&>(ss);
        s4.sin_family = AF_INET;
        s4.sin_port = htons(hp->port);
        std::memcpy(&s4.sin_addr, ip->b.data(), 4);
        len = sizeof s4;
    } else {
        auto& s6 = reinterpret_cast<sockaddr_in6&>(ss);
        s6.sin6_family = AF_INET6;
        s6.sin6_port = htons(hp->port);
        if (ip) std::memcpy(&s6.sin6_addr, ip->b.data(), 16);
        len = sizeof s6;
    }
    fd_ = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) sys_fail("socket");
    const int on = 1, off = 0;
    if (ss.ss_family == AF_INET6) ::setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, wildcard_ ? &off : &on, sizeof on);
    if (wildcard_) stun::enable_pktinfo(fd_);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) sys_fail("--addr: cannot listen on " + addr);
}

BatchServer::~BatchServer() {
    if (fd_ >= 0) ::close(fd_);
}

std::string BatchServer::local_address() const {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    char text[INET6_ADDRSTRLEN] = "?";
    if (ss.ss_family == AF_INET) {
        const auto& s4 = reinterpret_cast<const sockaddr_in&>(ss);
        ::inet_ntop(AF_INET, &s4.sin_addr, text, sizeof text);
        return std::string(text) + ":" + std::to_string(ntohs(s4.sin_port));
    }
    const auto& s6 = reinterpret_cast<const sockaddr_in6&>(ss);
    ::inet_ntop(AF_INET6, &s6.sin6_addr, text, sizeof text);
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(s6.sin6_port));
}

void BatchServer::run(const std::atomic<bool>& stop, stun::Counters& counters) {
    stun::Batch batch(wildcard_);
    while (!stop.load()) {
        pollfd p{fd_, POLLIN, 0};
        const int pr = ::poll(&p, 1, 250);
        if (pr < 0 && errno != EINTR) sys_fail("poll");
        if (pr <= 0) continue;
        // A full batch means more may be waiting: read again before polling.
        while (batch.serve_once(fd_, counters) == stun::Batch::kMax && !stop.load()) {
        }
    }
}

}  // namespace hs::stunsrv
