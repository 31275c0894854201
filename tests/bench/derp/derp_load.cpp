// hs-bench-derp: relays fixed-size packets among client pairs through a DERP server over TLS
// and reports what arrived. Each pair's two connections send to each other as fast as the
// server takes the bytes (or at --rate), so the server, not this process, sets the pace; the
// script pins the two to different CPUs. One thread and epoll: the load generator must stay
// cheaper per packet than the relay it measures, so it sends many TLS records per syscall,
// reads ahead, and parses received frames in place without allocating.
//
// Output: one JSON object on stdout; progress and errors on stderr.
#include <fcntl.h>
#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/base/cli.h"
#include "common/base/duration.h"
#include "common/derp/frame.h"
#include "tests/bench/derp/derp_client.h"
#include "tests/bench/derp/proc_stat.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace derp = hs::derp;

constexpr std::size_t kReadBuf = 256 << 10;
constexpr std::size_t kSeqLen = 8;

constexpr std::size_t kBatch = 16;  // packets per send(): a refill, and the pacing quantum

enum class Phase { Warmup, Measure, Drain, Done };

struct Settings {
    std::string host = "127.0.0.1";
    int port = 0;
    std::string sni;
    int pairs = 10;
    std::size_t size = 1400;
    std::string duration = "10s", warmup = "1s", drain = "2s";
    double rate = 0;             // packets/s per connection; 0 = as fast as the server takes them
    std::size_t per_record = 1;  // frames per TLS record
    int server_pid = 0;
    std::string label;
};

struct Peer {
    hs::bench::DerpConn c;
    std::size_t partner = 0;
    std::vector<std::uint8_t> tmpl;           // one SendPacket frame to the partner
    std::vector<std::uint8_t> plain;          // the frames of one TLS record
    std::vector<std::uint8_t> out;            // TLS records waiting for the socket
    std::size_t out_off = 0, out_frames = 0;  // bytes of `out` written; frames in `out`
    bool want_write = false, registered_out = false;
    double tokens = 0;
    std::uint64_t next_seq = 0, sent = 0;

    std::vector<std::uint8_t> in;
    std::size_t in_len = 0;
    std::uint64_t received = 0, received_in_window = 0, reordered = 0, foreign = 0, expect_seq = 0;
};

struct Run {
    Settings s;
    std::vector<Peer> peers;
    int ep = -1;
    Phase phase = Phase::Warmup;
};

[[noreturn]] void die(const std::string& msg) { throw std::runtime_error(msg); }

void set_interest(Run& r, std::size_t i, bool want_out) {
    Peer& p = r.peers[i];
    if (p.registered_out == want_out) return;
    epoll_event ev{};
    ev.events = EPOLLIN | (want_out ? EPOLLOUT : 0u);
    ev.data.u64 = i;
    if (epoll_ctl(r.ep, EPOLL_CTL_MOD, p.c.fd, &ev) != 0) die(std::string("epoll_ctl: ") + std::strerror(errno));
    p.registered_out = want_out;
}

// Counts the frames in p.in[0, in_len) and keeps a partial one for the next read.
void parse(Run& r, Peer& p) {
    std::size_t pos = 0;
    const Peer& from = r.peers[p.partner];
    while (p.in_len - pos >= derp::kHeaderLen) {
        const std::uint8_t* h = p.in.data() + pos;
        const std::uint32_t len =
            (std::uint32_t{h[1]} << 24) | (std::uint32_t{h[2]} << 16) | (std::uint32_t{h[3]} << 8) | h[4];
        if (len > derp::kMaxPacketSize + derp::kKeyLen) die("server sent a frame of " + std::to_string(len) + " bytes");
        if (p.in_len - pos < derp::kHeaderLen + len) break;
        if (static_cast<derp::FrameType>(h[0]) == derp::FrameType::RecvPacket) {
            const std::uint8_t* pl = h + derp::kHeaderLen;
            if (len != derp::kKeyLen + r.s.size ||
                std::memcmp(pl, from.c.public_key.bytes.data(), derp::kKeyLen) != 0) {
                ++p.foreign;
            } else {
                std::uint64_t seq;
                std::memcpy(&seq, pl + derp::kKeyLen, kSeqLen);
                if (seq < p.expect_seq) ++p.reordered;
                p.expect_seq = seq + 1;
                ++p.received;
                if (r.phase == Phase::Measure) ++p.received_in_window;
            }
        }
        pos += derp::kHeaderLen + len;
    }
    if (pos) {
        std::memmove(p.in.data(), p.in.data() + pos, p.in_len - pos);
        p.in_len -= pos;
    }
}

void pump_read(Run& r, Peer& p) {
    for (;;) {
        const int n = SSL_read(p.c.ssl, p.in.data() + p.in_len, static_cast<int>(p.in.size() - p.in_len));
        if (n > 0) {
            p.in_len += static_cast<std::size_t>(n);
            parse(r, p);
            continue;
        }
        const int e = SSL_get_error(p.c.ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
        die("the server closed a connection: " + hs::bench::ssl_errors());
    }
}

// Refills the batch while sending is allowed and writes until the socket is full; a bounded
// number of batches per call so one connection cannot starve the others. The packets leave as
// TLS records of --per-record frames each (a real client flushes one packet per record),
// encrypted into a memory BIO, and a whole batch of records goes out in one send(): the server
// sees what a client would send while the generator makes one syscall per batch.
void pump_write(Run& r, std::size_t i) {
    Peer& p = r.peers[i];
    for (int rounds = 0; rounds < 4; ++rounds) {
        if (p.out_off == p.out.size()) {
            if (r.phase != Phase::Warmup && r.phase != Phase::Measure) return;
            if (r.s.rate > 0) {
                // Whole batches only: paced runs then cost the generator no more per packet
                // than floods do (16 packets at 1000/s wait 16 ms, which no rate notices).
                if (p.tokens < static_cast<double>(kBatch)) return;
                p.tokens -= static_cast<double>(kBatch);
            }
            for (std::size_t f = 0; f < kBatch; f += r.s.per_record) {
                const std::size_t m = std::min(r.s.per_record, kBatch - f);
                p.plain.clear();
                for (std::size_t j = 0; j < m; ++j) {
                    const std::size_t at = p.plain.size();
                    p.plain.insert(p.plain.end(), p.tmpl.begin(), p.tmpl.end());
                    std::memcpy(p.plain.data() + at + derp::kHeaderLen + derp::kKeyLen, &p.next_seq, kSeqLen);
                    ++p.next_seq;
                }
                if (SSL_write(p.c.ssl, p.plain.data(), static_cast<int>(p.plain.size())) <= 0)
                    die("encrypting: " + hs::bench::ssl_errors());
            }
            BIO* wbio = SSL_get_wbio(p.c.ssl);
            p.out.resize(BIO_ctrl_pending(wbio));
            if (BIO_read(wbio, p.out.data(), static_cast<int>(p.out.size())) != static_cast<int>(p.out.size()))
                die("reading the memory BIO failed");
            p.out_off = 0;
            p.out_frames = kBatch;
        }
        const ssize_t n = ::send(p.c.fd, p.out.data() + p.out_off, p.out.size() - p.out_off, MSG_NOSIGNAL);
        if (n > 0) {
            p.out_off += static_cast<std::size_t>(n);
            if (p.out_off == p.out.size()) p.sent += p.out_frames;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            p.want_write = true;
            set_interest(r, i, true);
            return;
        }
        die(std::string("writing to the server failed: ") + std::strerror(errno));
    }
}

void set_nonblocking(int fd) {
    const int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) die(std::string("fcntl: ") + std::strerror(errno));
}

void setup(Run& r) {
    const Settings& s = r.s;
    SSL_CTX* ctx = hs::bench::make_client_ctx();
    const std::size_t n = static_cast<std::size_t>(s.pairs) * 2;
    r.peers.resize(n);
    for (auto& p : r.peers) p.c = hs::bench::derp_connect(ctx, s.host, s.port, s.sni);
    SSL_CTX_free(ctx);  // each SSL holds its own reference
    r.ep = epoll_create1(EPOLL_CLOEXEC);
    if (r.ep < 0) die(std::string("epoll_create1: ") + std::strerror(errno));
    for (std::size_t i = 0; i < n; ++i) {
        Peer& p = r.peers[i];
        p.partner = i ^ 1;
        p.in.resize(kReadBuf);
        if (p.c.leftover.size() > p.in.size()) die("the handshake left too many bytes");
        std::memcpy(p.in.data(), p.c.leftover.data(), p.c.leftover.size());
        p.in_len = p.c.leftover.size();
        // The filler cannot look like disco (which starts "TS" and an emoji) and so takes the
        // data queue, as WireGuard packets do; the first 8 bytes become the sequence number.
        const derp::Bytes payload(s.size, 0xa5);
        const derp::Bytes frame = derp::encode_send_packet(r.peers[p.partner].c.public_key, payload);
        p.tmpl.assign(frame.begin(), frame.end());
        set_nonblocking(p.c.fd);
        // From here on records are encrypted into memory and sent in batches (pump_write).
        SSL_set0_wbio(p.c.ssl, BIO_new(BIO_s_mem()));
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = i;
        if (epoll_ctl(r.ep, EPOLL_CTL_ADD, p.c.fd, &ev) != 0) die(std::string("epoll_ctl: ") + std::strerror(errno));
    }
}

nlohmann::json run(const Settings& s) {
    if (s.pairs < 1 || s.pairs > 5000) die("--pairs: 1..5000");
    if (s.size < kSeqLen || s.size > derp::kMaxPacketSize) die("--size: 8..65536");
    if (s.per_record < 1 || s.per_record > 11) die("--per-record: 1..11 (a TLS record holds 16 KiB)");
    const auto warmup = hs::parse_duration(s.warmup), duration = hs::parse_duration(s.duration),
               drain = hs::parse_duration(s.drain);
    if (duration.count() <= 0) die("--duration must be positive");
    Run r;
    r.s = s;
    setup(r);
    const std::size_t n = r.peers.size();
    for (auto& p : r.peers) parse(r, p);  // frames that came with the handshake
    // Both servers register a client only after ServerInfo; give the last ones time to land.
    usleep(300000);

    const auto t0 = Clock::now();
    const auto measure_at = t0 + warmup, drain_at = measure_at + duration, done_at = drain_at + drain;
    hs::bench::CpuWindow cpu(s.server_pid);
    auto last = t0;
    std::vector<epoll_event> evs(n);
    while (r.phase != Phase::Done) {
        const auto now = Clock::now();
        if (r.phase == Phase::Warmup && now >= measure_at) {
            r.phase = Phase::Measure;
            cpu.start();
        }
        if (r.phase == Phase::Measure && now >= drain_at) {
            r.phase = Phase::Drain;
            cpu.stop();
        }
        bool all_in = r.phase == Phase::Drain;
        if (all_in)
            for (auto& p : r.peers)
                all_in = all_in && p.out_off == p.out.size() && r.peers[p.partner].sent == p.received;
        if (r.phase == Phase::Drain && (now >= done_at || all_in)) r.phase = Phase::Done;
        if (s.rate > 0) {
            const double dt = std::chrono::duration<double>(now - last).count();
            for (auto& p : r.peers) p.tokens = std::min(p.tokens + s.rate * dt, s.rate * 0.01 + 2.0 * kBatch);
        }
        last = now;
        // Poll without sleeping while some connection could still take bytes at once.
        bool writable = false;
        for (std::size_t i = 0; i < n; ++i) {
            if (r.peers[i].want_write) continue;
            pump_write(r, i);
            const Peer& p = r.peers[i];
            writable = writable ||
                       (!p.want_write && (p.out_off != p.out.size() || (s.rate == 0 && r.phase <= Phase::Measure)));
        }
        const int timeout = writable ? 0 : 1;
        const int k = epoll_wait(r.ep, evs.data(), static_cast<int>(evs.size()), timeout);
        if (k < 0 && errno != EINTR) die(std::string("epoll_wait: ") + std::strerror(errno));
        for (int e = 0; e < k; ++e) {
            const std::size_t i = evs[static_cast<std::size_t>(e)].data.u64;
            Peer& p = r.peers[i];
            if (evs[static_cast<std::size_t>(e)].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) pump_read(r, p);
            if ((evs[static_cast<std::size_t>(e)].events & EPOLLOUT) && p.want_write) {
                p.want_write = false;
                set_interest(r, i, false);
                pump_write(r, i);
            }
        }
    }

    std::uint64_t sent = 0, received = 0, in_window = 0, reordered = 0, foreign = 0;
    for (auto& p : r.peers) {
        sent += p.sent;
        received += p.received;
        in_window += p.received_in_window;
        reordered += p.reordered;
        foreign += p.foreign;
    }
    const double secs = std::chrono::duration<double>(duration).count();
    const double pps = static_cast<double>(in_window) / secs;
    nlohmann::json j;
    j["server"] = s.label;
    j["pairs"] = s.pairs;
    j["connections"] = n;
    j["packet_bytes"] = s.size;
    j["duration_s"] = secs;
    j["offered_rate_per_conn"] = s.rate;
    j["sent"] = sent;
    j["received"] = received;
    j["lost"] = sent >= received ? sent - received : 0;
    j["loss_pct"] =
        sent ? 100.0 * static_cast<double>(sent - std::min(sent, received)) / static_cast<double>(sent) : 0.0;
    j["reordered"] = reordered;
    j["unexpected_frames"] = foreign;
    j["rx_packets_per_s"] = pps;
    j["rx_mbit_per_s"] = pps * static_cast<double>(s.size) * 8 / 1e6;
    cpu.report(j, secs);
    if (s.server_pid > 0)
        j["packets_per_server_cpu_s"] = cpu.server_cpu() > 0 ? static_cast<double>(in_window) / cpu.server_cpu() : 0.0;
    ::close(r.ep);
    return j;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "Relay fixed-size packets among DERP client pairs over TLS and report throughput, loss and\n"
        "the server's CPU time as JSON.\n\n"
        "  hs-bench-derp --port 8443 --server-pid $(pidof hs-derper) --duration 10s\n",
        "hs-bench-derp"};
    hs::CommonFlags flags;
    hs::add_common_flags(app, flags);
    Settings s;
    app.add_option("--host", s.host, "Server IP address")->capture_default_str();
    app.add_option("--port", s.port, "Server TLS port")->required()->check(CLI::Range(1, 65535));
    app.add_option("--sni", s.sni, "TLS server name (default: none)");
    app.add_option("--pairs", s.pairs, "Client pairs; both ends of a pair send to each other")->capture_default_str();
    app.add_option("--size", s.size, "Packet bytes (the data of one SendPacket)")->capture_default_str();
    app.add_option("--duration", s.duration, "Measured time")->check(hs::duration_validator())->capture_default_str();
    app.add_option("--warmup", s.warmup, "Load before measuring")
        ->check(hs::duration_validator())
        ->capture_default_str();
    app.add_option("--drain", s.drain, "Longest wait for packets in flight after sending stops")
        ->check(hs::duration_validator())
        ->capture_default_str();
    app.add_option("--rate", s.rate, "Packets/s each connection sends (0: as fast as the server takes them)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--per-record", s.per_record, "Packets per TLS record (a real client sends one)")
        ->capture_default_str();
    app.add_option("--server-pid", s.server_pid, "Server process whose CPU seconds and peak RSS to report");
    app.add_option("--label", s.label, "Name of the server in the output");
    return hs::run_main(app, flags, argc, argv, [&] {
        std::cout << run(s).dump() << "\n";
        return 0;
    });
}
