#include "common/stun/net/batch.h"

#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "common/base/log.h"

namespace hs::stun {
namespace {

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

// Turns the destination a request arrived at into the source its reply must leave from.
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

void enable_pktinfo(int fd) {
    const int on = 1;
    // One of the two fails on a single-family socket; the other is the one that matters.
    ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on);
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on);
}

Batch::Batch(bool reply_from_dest)
    : reply_from_dest_(reply_from_dest), in_(kMax), out_(kMax), peers_(kMax), in_cmsg_(kMax), out_cmsg_(kMax),
      in_iov_(kMax), out_iov_(kMax), rmsgs_(kMax), smsgs_(kMax) {}

std::size_t Batch::serve_once(int fd, Counters& counters) {
    for (unsigned i = 0; i < kMax; ++i) {
        in_iov_[i] = {in_[i].data(), in_[i].size()};
        rmsgs_[i].msg_hdr = msghdr{};
        rmsgs_[i].msg_hdr.msg_name = &peers_[i];
        rmsgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        rmsgs_[i].msg_hdr.msg_iov = &in_iov_[i];
        rmsgs_[i].msg_hdr.msg_iovlen = 1;
        rmsgs_[i].msg_hdr.msg_control = in_cmsg_[i].data();
        rmsgs_[i].msg_hdr.msg_controllen = kCmsgLen;
    }
    const int n = ::recvmmsg(fd, rmsgs_.data(), kMax, MSG_DONTWAIT, nullptr);
    if (n < 0) {
        if (errno == EBADF || errno == ENOTSOCK || errno == EINVAL)
            throw std::runtime_error(std::string("stun: recvmmsg: ") + std::strerror(errno));
        return 0;  // nothing waiting, a signal, or an ICMP error reported for an earlier reply
    }
    unsigned replies = 0;
    for (int i = 0; i < n; ++i) {
        IpAddr ip;
        std::uint16_t port = 0;
        if (!from_sockaddr(peers_[i], ip, port)) continue;
        const std::size_t len =
            handle_packet(std::span(in_[i]).first(rmsgs_[i].msg_len), ip, port, std::span(out_[replies]), counters);
        if (len == 0) continue;
        out_iov_[replies] = {out_[replies].data(), len};
        msghdr& m = smsgs_[replies].msg_hdr;
        m = msghdr{};
        m.msg_name = &peers_[i];
        m.msg_namelen = rmsgs_[i].msg_hdr.msg_namelen;
        m.msg_iov = &out_iov_[replies];
        m.msg_iovlen = 1;
        if (reply_from_dest_) {
            const socklen_t cl = reply_cmsg(rmsgs_[i].msg_hdr, out_cmsg_[replies].data(), kCmsgLen);
            if (cl) {
                m.msg_control = out_cmsg_[replies].data();
                m.msg_controllen = cl;
            }
        }
        ++replies;
    }
    // sendmmsg stops at the first failing datagram; count it and go on with the rest. A full
    // send buffer drops the reply, as a router would: the client asks again.
    for (unsigned sent = 0; sent < replies;) {
        const int r = ::sendmmsg(fd, smsgs_.data() + sent, replies - sent, MSG_DONTWAIT);
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
    return static_cast<std::size_t>(n);
}

}  // namespace hs::stun
