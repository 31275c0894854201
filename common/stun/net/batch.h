// STUN answered in batches on a non-blocking UDP socket: one recvmmsg takes every waiting
// datagram (up to kMax), one sendmmsg sends the replies. hs-stun drives it from a poll loop,
// hs-derper and hs-control from Asio (net/udp.h); the kernel's per-syscall cost, not ours,
// then bounds the rate.
#pragma once

#include <array>
#include <cstddef>
#include <vector>

#include <sys/socket.h>

#include "common/stun/message.h"

namespace hs::stun {

// For a socket bound to a wildcard address: asks the kernel for each datagram's destination
// address, so the reply can leave from the address the client asked (a client behind a NAT or
// firewall drops a reply from any other).
void enable_pktinfo(int fd);

class Batch {
public:
    static constexpr unsigned kMax = 64;

    // `reply_from_dest`: the socket had enable_pktinfo(); replies name their source address.
    explicit Batch(bool reply_from_dest);

    // Reads what is waiting without blocking, answers the Binding Requests among it, and
    // returns how many datagrams it read (0: none waiting, or a passing error such as an ICMP
    // error for an earlier reply). Throws std::runtime_error when the socket itself is unusable.
    std::size_t serve_once(int fd, Counters& counters);

private:
    static constexpr std::size_t kBufLen = 2048;  // larger than any request, so oversize ones fail whole
    static constexpr std::size_t kCmsgLen = 128;

    bool reply_from_dest_;
    std::vector<std::array<std::uint8_t, kBufLen>> in_;
    std::vector<std::array<std::uint8_t, kMaxResponseLen>> out_;
    std::vector<sockaddr_storage> peers_;
    std::vector<std::array<unsigned char, kCmsgLen>> in_cmsg_, out_cmsg_;
    std::vector<iovec> in_iov_, out_iov_;
    std::vector<mmsghdr> rmsgs_, smsgs_;
};

}  // namespace hs::stun
