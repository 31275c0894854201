#include "tools/hs-stun/batch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/net/listen.h"
#include "common/stun/net/batch.h"

namespace hs::stunsrv {
namespace {

[[noreturn]] void sys_fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

}  // namespace

BatchServer::BatchServer(const std::string& addr) {
    // Bound through Asio like every other listener, then served on the bare descriptor:
    // recvmmsg/sendmmsg need no event loop.
    boost::asio::io_context io;
    const auto at = parse_listen_addr(addr, "--addr");
    auto sock = bind_udp(io.get_executor(), at, "--addr");
    wildcard_ = at.ip.is_unspecified();
    fd_ = sock.release();
    if (wildcard_) stun::enable_pktinfo(fd_);
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
        while (batch.serve_once(fd_, counters) == stun::Batch::kMax && !stop.load()) {}
    }
}

}  // namespace hs::stunsrv
