// hs-bench-udp-echo: the ceiling of a one-socket UDP server on this kernel. Sends every datagram
// back to its sender unchanged, in batches (recvmmsg/sendmmsg of up to 64, as hs-stun), from a
// poll loop: no parsing and no reply to build, so what it reaches is what the kernel's UDP
// path allows one core. tests/bench/derp_bench.sh runs it beside hs-stun and derper's STUN
// under the same load generator (hs-bench-stun --echo counts the echoed requests).
//
//   hs-bench-udp-echo --addr 127.0.0.1:PORT
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>

#include "common/base/cli.h"
#include "common/net/listen.h"

namespace {

constexpr unsigned kMax = 64;       // as stun::Batch::kMax
constexpr std::size_t kBuf = 2048;  // as stun::Batch's receive buffers

[[noreturn]] void die(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

// Echoes what is waiting; returns how many datagrams it read.
unsigned echo_once(int fd) {
    static std::array<std::array<std::uint8_t, kBuf>, kMax> bufs;
    static std::array<sockaddr_storage, kMax> peers;
    static std::array<iovec, kMax> iov;
    static std::array<mmsghdr, kMax> msgs;
    for (unsigned i = 0; i < kMax; ++i) {
        iov[i] = {bufs[i].data(), kBuf};
        msgs[i] = mmsghdr{};
        msgs[i].msg_hdr.msg_name = &peers[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::recvmmsg(fd, msgs.data(), kMax, MSG_DONTWAIT, nullptr);
    if (n <= 0) {
        if (n < 0 && (errno == EBADF || errno == ENOTSOCK || errno == EINVAL)) die("recvmmsg");
        return 0;
    }
    // The received headers become the send headers: same peer, same buffer, its length.
    for (int i = 0; i < n; ++i) iov[static_cast<unsigned>(i)].iov_len = msgs[static_cast<unsigned>(i)].msg_len;
    for (int sent = 0; sent < n;) {
        const int r = ::sendmmsg(fd, msgs.data() + sent, static_cast<unsigned>(n - sent), MSG_DONTWAIT);
        if (r < 0 && errno == EINTR) continue;
        sent += r > 0 ? r : 1;  // a failed datagram is dropped, as hs-stun drops it
    }
    return static_cast<unsigned>(n);
}

}  // namespace

int main(int argc, char** argv) {
    std::string addr;
    CLI::App app{"hs-bench-udp-echo: a bare recvmmsg/sendmmsg UDP echo, the ceiling for STUN servers"};
    app.add_option("--addr,-a", addr, "IP:PORT to listen on")->required();
    CLI11_PARSE(app, argc, argv);
    try {
        boost::asio::io_context io;
        const auto at = hs::parse_listen_addr(addr, "--addr");
        const int fd = hs::bind_udp(io.get_executor(), at, "--addr").release();
        for (;;) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, -1) < 0 && errno != EINTR) die("poll");
            while (echo_once(fd) == kMax) {}
        }
    } catch (const std::exception& e) {
        std::cerr << "hs-bench-udp-echo: " << e.what() << "\n";
        return 1;
    }
}
