#include "tools/hs-stun/batch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "common/log.h"
#include "common/netaddr.h"

namespace hs::stunsrv {
namespace {

constexpr unsigned kBatch = 64;
constexpr std::size_t kBufLen = 2048;  // larger than any request, so oversize ones fail whole
constexpr std::size_t kCmsgLen = 128;

[[noreturn]] void sys_fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

bool from_sockaddr(const sockaddr_storage& ss, IpAddr& ip, std::uint16_t& port) {
    if (ss.ss_family == AF_INET) {
        const auto& s4 = reinterpret_cast<const sockaddr_in&>(ss);
        ip = IpAddr{};
        std::memcpy(ip.b.data(), &s4.sin_addr, 4);
        port = ntohs(s4.sin_port);
        return true;
    }
    if (ss.ss_family == AF_INET6) {
        const auto& s6 = reinterpret_cast<const sockaddr_in6&>(ss);
        ip = IpAddr{};
        ip.v6 = true;
        std::memcpy(ip.b.data(), &s6.sin6_addr, 16);
        port = ntohs(s6.sin6_port);
        return true;
    }
    return false;
}

// Turns the destination a request arrived at into the source its reply must leave from. On a
// wildcard socket the kernel would otherwise pick by route, and a client behind a NAT or
// firewall drops a reply from an address it did not ask.
socklen_t reply_cmsg(msghdr& in, unsigned char* out, std::size_t out_len) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&in); c; c = CMSG_NXTHDR(&in, c)) {
        msghdr m{};
        m.msg_control = out;
        m.msg_controllen = out_len;
        cmsghdr* o = CMSG_FIRSTHDR(&m);
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            in_pktinfo got;
            std::memcpy(&got, CMSG_DATA(c), sizeof got);
            in_pktinfo send{};
            send.ipi_spec_dst = got.ipi_addr;
            o->cmsg_level = IPPROTO_IP;
            o->cmsg_type = IP_PKTINFO;
            o->cmsg_len = CMSG_LEN(sizeof send);
            std::memcpy(CMSG_DATA(o), &send, sizeof send);
            return static_cast<socklen_t>(CMSG_SPACE(sizeof send));
        }
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            o->cmsg_level = IPPROTO_IPV6;
            o->cmsg_type = IPV6_PKTINFO;
            o->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
            std::memcpy(CMSG_DATA(o), CMSG_DATA(c), sizeof(in6_pktinfo));
            return static_cast<socklen_t>(CMSG_SPACE(sizeof(in6_pktinfo)));
        }
    }
    return 0;
}

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
    if (wildcard_) {
        ::setsockopt(fd_, IPPROTO_IP, IP_PKTINFO, &on, sizeof on);
        ::setsockopt(fd_, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on);
    }
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) sys_fail("--addr: cannot listen on " + addr);
}

BatchServer::~BatchServer() {
    if (fd_ >= 0) ::close(fd_);
}

std::string BatchServer::local_address() const {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    IpAddr ip;
    std::uint16_t port = 0;
    if (!from_sockaddr(ss, ip, port)) return "?";
    return (ip.v6 ? "[" + ip.str() + "]" : ip.str()) + ":" + std::to_string(port);
}

void BatchServer::run(const std::atomic<bool>& stop, stun::Counters& counters) {
    std::vector<std::array<std::uint8_t, kBufLen>> in(kBatch);
    std::vector<std::array<std::uint8_t, stun::kMaxResponseLen>> out(kBatch);
    std::vector<sockaddr_storage> peers(kBatch);
    std::vector<std::array<unsigned char, kCmsgLen>> in_cmsg(kBatch), out_cmsg(kBatch);
    std::vector<iovec> in_iov(kBatch), out_iov(kBatch);
    std::vector<mmsghdr> rmsgs(kBatch), smsgs(kBatch);

    while (!stop.load()) {
        pollfd p{fd_, POLLIN, 0};
        const int pr = ::poll(&p, 1, 250);
        if (pr < 0 && errno != EINTR) sys_fail("poll");
        if (pr <= 0) continue;
        for (unsigned i = 0; i < kBatch; ++i) {
            in_iov[i] = {in[i].data(), in[i].size()};
            rmsgs[i].msg_hdr = msghdr{};
            rmsgs[i].msg_hdr.msg_name = &peers[i];
            rmsgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
            rmsgs[i].msg_hdr.msg_iov = &in_iov[i];
            rmsgs[i].msg_hdr.msg_iovlen = 1;
            rmsgs[i].msg_hdr.msg_control = in_cmsg[i].data();
            rmsgs[i].msg_hdr.msg_controllen = kCmsgLen;
        }
        const int n = ::recvmmsg(fd_, rmsgs.data(), kBatch, MSG_DONTWAIT, nullptr);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNREFUSED) continue;
            sys_fail("recvmmsg");
        }
        unsigned replies = 0;
        for (int i = 0; i < n; ++i) {
            IpAddr ip;
            std::uint16_t port = 0;
            if (!from_sockaddr(peers[i], ip, port)) continue;
            const std::size_t len = stun::handle_packet(std::span(in[i]).first(rmsgs[i].msg_len), ip, port,
                                                        std::span(out[replies]), counters);
            if (len == 0) continue;
            out_iov[replies] = {out[replies].data(), len};
            msghdr& m = smsgs[replies].msg_hdr;
            m = msghdr{};
            m.msg_name = &peers[i];
            m.msg_namelen = rmsgs[i].msg_hdr.msg_namelen;
            m.msg_iov = &out_iov[replies];
            m.msg_iovlen = 1;
            if (wildcard_) {
                const socklen_t cl = reply_cmsg(rmsgs[i].msg_hdr, out_cmsg[replies].data(), kCmsgLen);
                if (cl) {
                    m.msg_control = out_cmsg[replies].data();
                    m.msg_controllen = cl;
                }
            }
            ++replies;
        }
        // sendmmsg stops at the first failing datagram; count it and go on with the rest.
        for (unsigned sent = 0; sent < replies;) {
            const int r = ::sendmmsg(fd_, smsgs.data() + sent, replies - sent, 0);
            if (r < 0) {
                if (errno == EINTR) continue;
                counters.send_errors += 1;
                spdlog::debug("stun: send failed: {}", std::strerror(errno));
                ++sent;
                continue;
            }
            if (r == 0) break;
            counters.responses += static_cast<unsigned>(r);
            sent += static_cast<unsigned>(r);
        }
    }
}

}  // namespace hs::stunsrv
