// hs-bench-stun: keeps a window of STUN binding requests outstanding on several UDP sockets and
// reports how many valid responses per second the server returns. The window keeps the
// server busy without overflowing its receive buffer, so the rate measured is what the server
// answers, not what the kernel drops. A request is the one tailscaled sends (SOFTWARE and
// FINGERPRINT); a response counts only if it echoes one of our transaction IDs and maps to
// the socket's own port.
//
// Output: one JSON object on stdout; errors on stderr.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/base/cli.h"
#include "common/base/duration.h"
#include "common/stun/message.h"
#include "tests/bench/derp/proc_stat.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace stun = hs::stun;

constexpr unsigned kBatch = 32;
constexpr std::size_t kReqLen = 40;
// A socket whose window has been silent this long has lost its requests: they are counted and
// the window reopens.
constexpr auto kLostAfter = std::chrono::milliseconds(50);

struct Settings {
    std::string host = "127.0.0.1";
    int port = 0;
    int sockets = 4;
    int window = 64;
    std::string duration = "10s", warmup = "1s";
    int server_pid = 0;
    std::string label;
    bool echo = false;  // the server is hs-bench-udp-echo: count our own requests coming back
};

struct Sock {
    int fd = -1;
    std::uint16_t local_port = 0;
    std::uint32_t tag = 0;  // first 4 bytes of every transaction ID this socket sends
    std::uint64_t next_seq = 0;
    int outstanding = 0;
    Clock::time_point last_reply;
};

[[noreturn]] void die(const std::string& msg) { throw std::runtime_error(msg + ": " + std::strerror(errno)); }

Sock open_sock(const sockaddr_storage& server, socklen_t len, std::uint32_t tag) {
    Sock s;
    s.tag = tag;
    s.fd = ::socket(server.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s.fd < 0) die("socket");
    if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&server), len) != 0) die("connect");
    sockaddr_storage local{};
    socklen_t ll = sizeof local;
    ::getsockname(s.fd, reinterpret_cast<sockaddr*>(&local), &ll);
    s.local_port = ntohs(local.ss_family == AF_INET ? reinterpret_cast<sockaddr_in&>(local).sin_port
                                                    : reinterpret_cast<sockaddr_in6&>(local).sin6_port);
    return s;
}

// Sends until `window` requests are outstanding (or the socket buffer is full). Returns how many.
std::uint64_t fill(Sock& s, int window) {
    std::uint64_t sent = 0;
    std::array<std::array<std::uint8_t, kReqLen>, kBatch> reqs;
    std::array<iovec, kBatch> iov;
    std::array<mmsghdr, kBatch> msgs{};
    while (s.outstanding < window) {
        const unsigned k = std::min<unsigned>(kBatch, static_cast<unsigned>(window - s.outstanding));
        for (unsigned i = 0; i < k; ++i) {
            stun::TxId id;
            std::memcpy(id.data(), &s.tag, 4);
            const std::uint64_t seq = s.next_seq + i;
            std::memcpy(id.data() + 4, &seq, 8);
            reqs[i] = stun::tailscale_request(id);
            iov[i] = {reqs[i].data(), kReqLen};
            msgs[i] = mmsghdr{};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        const int r = ::sendmmsg(s.fd, msgs.data(), k, 0);
        if (r <= 0) {
            if (errno == EAGAIN || errno == ECONNREFUSED || errno == EINTR) break;
            die("sendmmsg");
        }
        s.next_seq += static_cast<unsigned>(r);
        s.outstanding += r;
        sent += static_cast<unsigned>(r);
    }
    return sent;
}

// Reads every waiting response; returns how many were valid answers to this socket.
std::uint64_t drain(Sock& s, bool echo, std::uint64_t& invalid) {
    std::uint64_t ok = 0;
    std::array<std::array<std::uint8_t, 128>, kBatch> bufs;
    std::array<iovec, kBatch> iov;
    std::array<mmsghdr, kBatch> msgs{};
    for (;;) {
        for (unsigned i = 0; i < kBatch; ++i) {
            iov[i] = {bufs[i].data(), bufs[i].size()};
            msgs[i] = mmsghdr{};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        const int r = ::recvmmsg(s.fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
        if (r <= 0) {
            if (r == 0 || errno == EAGAIN || errno == ECONNREFUSED || errno == EINTR) return ok;
            die("recvmmsg");
        }
        for (int i = 0; i < r; ++i) {
            const std::span<const std::uint8_t> pkt(bufs[static_cast<unsigned>(i)].data(),
                                                    msgs[static_cast<unsigned>(i)].msg_len);
            stun::TxId id{};
            if (pkt.size() >= stun::kHeaderLen) std::memcpy(id.data(), pkt.data() + 8, id.size());
            const bool ours = pkt.size() >= stun::kHeaderLen && std::memcmp(id.data(), &s.tag, 4) == 0;
            if (echo ? ours && pkt.size() == kReqLen : ours && [&] {
                    const auto m = stun::parse_response(pkt, id);
                    return m && m->port == s.local_port;
                }()) {
                ++ok;
            } else {
                ++invalid;
            }
        }
        s.outstanding = std::max(0, s.outstanding - r);
        s.last_reply = Clock::now();
    }
}

nlohmann::json run(const Settings& st) {
    if (st.sockets < 1 || st.sockets > 1024) throw std::runtime_error("--sockets: 1..1024");
    if (st.window < 1 || st.window > 4096) throw std::runtime_error("--window: 1..4096");
    const auto duration = hs::parse_duration(st.duration), warmup = hs::parse_duration(st.warmup);
    if (duration.count() <= 0) throw std::runtime_error("--duration must be positive");
    sockaddr_storage server{};
    socklen_t len = 0;
    auto& s4 = reinterpret_cast<sockaddr_in&>(server);
    auto& s6 = reinterpret_cast<sockaddr_in6&>(server);
    if (::inet_pton(AF_INET, st.host.c_str(), &s4.sin_addr) == 1) {
        s4.sin_family = AF_INET;
        s4.sin_port = htons(static_cast<std::uint16_t>(st.port));
        len = sizeof s4;
    } else if (::inet_pton(AF_INET6, st.host.c_str(), &s6.sin6_addr) == 1) {
        s6.sin6_family = AF_INET6;
        s6.sin6_port = htons(static_cast<std::uint16_t>(st.port));
        len = sizeof s6;
    } else {
        throw std::runtime_error("--host: \"" + st.host + "\" is not an IP address");
    }
    std::vector<Sock> socks;
    std::vector<pollfd> pfds;
    for (int i = 0; i < st.sockets; ++i) {
        socks.push_back(open_sock(server, len, 0xb5e40000u + static_cast<std::uint32_t>(i)));
        pfds.push_back({socks.back().fd, POLLIN, 0});
    }

    const auto t0 = Clock::now(), measure_at = t0 + warmup, end_at = measure_at + duration;
    bool measuring = false;
    std::uint64_t sent = 0, ok = 0, ok_window = 0, invalid = 0, timeouts = 0;
    hs::bench::CpuWindow cpu(st.server_pid);
    for (auto& s : socks) s.last_reply = t0;
    for (;;) {
        const auto now = Clock::now();
        if (!measuring && now >= measure_at) {
            measuring = true;
            cpu.start();
        }
        if (now >= end_at) {
            cpu.stop();
            break;
        }
        for (auto& s : socks) {
            if (s.outstanding > 0 && now - s.last_reply > kLostAfter) {
                timeouts += static_cast<unsigned>(s.outstanding);
                s.outstanding = 0;
            }
            if (s.outstanding == 0) s.last_reply = now;
            sent += fill(s, st.window);
        }
        const int r = ::poll(pfds.data(), pfds.size(), 10);
        if (r < 0 && errno != EINTR) die("poll");
        for (std::size_t i = 0; r > 0 && i < socks.size(); ++i) {
            if (!(pfds[i].revents & (POLLIN | POLLERR))) continue;
            const auto got = drain(socks[i], st.echo, invalid);
            ok += got;
            if (measuring) ok_window += got;
        }
    }
    for (auto& s : socks) ::close(s.fd);

    const double secs = std::chrono::duration<double>(duration).count();
    nlohmann::json j;
    j["server"] = st.label;
    j["sockets"] = st.sockets;
    j["window"] = st.window;
    j["duration_s"] = secs;
    j["requests_sent"] = sent;
    j["responses"] = ok;
    j["invalid_responses"] = invalid;
    j["timed_out"] = timeouts;
    j["responses_per_s"] = static_cast<double>(ok_window) / secs;
    cpu.report(j, secs);
    return j;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "Send STUN binding requests with a window outstanding and report valid responses per second\n"
        "as JSON.\n\n"
        "  hs-bench-stun --port 3478 --server-pid $(pidof hs-stun) --duration 10s\n",
        "hs-bench-stun"};
    hs::CommonFlags flags;
    hs::add_common_flags(app, flags);
    Settings s;
    app.add_option("--host", s.host, "Server IP address")->capture_default_str();
    app.add_option("--port", s.port, "Server UDP port")->required()->check(CLI::Range(1, 65535));
    app.add_option("--sockets", s.sockets, "UDP sockets (source ports)")->capture_default_str();
    app.add_option("--window", s.window, "Requests outstanding per socket")->capture_default_str();
    app.add_option("--duration", s.duration, "Measured time")->check(hs::duration_validator())->capture_default_str();
    app.add_option("--warmup", s.warmup, "Load before measuring")
        ->check(hs::duration_validator())
        ->capture_default_str();
    app.add_option("--server-pid", s.server_pid, "Server process whose CPU seconds to report");
    app.add_option("--label", s.label, "Name of the server in the output");
    app.add_flag("--echo", s.echo, "The server echoes (hs-bench-udp-echo): count our requests sent back as answers");
    return hs::run_main(app, flags, argc, argv, [&] {
        std::cout << run(s).dump() << "\n";
        return 0;
    });
}
