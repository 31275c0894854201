// probe: measure each node as a client would: STUN round trip, TLS handshake with the
// certificate check the node asks for, then the DERP upgrade up to the ServerKey frame.
// Talks only to the addresses (or host names) in the map it is given.
#include <cstdio>
#include <memory>
#include <optional>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <boost/asio/ssl.hpp>

#include "common/base/duration.h"
#include "common/base/keys.h"
#include "common/base/random.h"
#include "common/derp/frame.h"
#include "common/net/asio.h"
#include "common/stun/message.h"
#include "tools/hs-derpmap/commands.h"

namespace hs::derpmap {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using asio::ip::udp;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

struct ProbeError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// Runs one asynchronous operation to completion or until `deadline`; on timeout `cancel`
// stops it and ProbeError names `what`.
template <class Start, class Cancel>
void run_op(asio::io_context& io, Clock::time_point deadline, const std::string& what, Start start, Cancel cancel) {
    boost::system::error_code ec;
    bool done = false;
    start([&](const boost::system::error_code& e, auto&&...) {
        ec = e;
        done = true;
    });
    io.restart();
    while (!done && Clock::now() < deadline) {
        if (io.run_one_until(deadline) == 0 && io.stopped()) break;
    }
    if (!done) {
        cancel();
        io.restart();
        io.run();
        throw ProbeError(what + ": timed out");
    }
    if (ec) throw ProbeError(what + ": " + ec.message());
}

struct Target {
    std::string host;
    std::optional<asio::ip::address> v4;
    std::optional<asio::ip::address> v6;
};

std::optional<asio::ip::address> literal(const std::string& s) {
    boost::system::error_code ec;
    const auto a = asio::ip::make_address(s, ec);
    if (ec) return std::nullopt;
    return a;
}

// The address to dial: IPv4 literal, else IPv6 literal, else DNS for HostName unless both
// families are switched off ("none").
asio::ip::address dial_address(asio::io_context& io, const json& node, Clock::time_point deadline) {
    const auto v4 = node.value("IPv4", "");
    const auto v6 = node.value("IPv6", "");
    if (const auto a = literal(v4)) return *a;
    if (const auto a = literal(v6)) return *a;
    if (!v4.empty() && !v6.empty()) throw ProbeError("no usable address (IPv4 and IPv6 are both off)");
    const auto host = node.value("HostName", "");
    if (const auto a = literal(host)) return *a;
    tcp::resolver resolver(io);
    tcp::resolver::results_type results;
    run_op(
        io, deadline, "resolve " + host,
        [&](auto handler) {
            resolver.async_resolve(
                host, "443",
                [&results, handler](const boost::system::error_code& e, tcp::resolver::results_type r) mutable {
                    results = std::move(r);
                    handler(e);
                });
        },
        [&] { resolver.cancel(); });
    for (const auto& r : results) {
        const auto a = r.endpoint().address();
        if ((a.is_v4() && v4.empty()) || (a.is_v6() && v6.empty())) return a;
    }
    throw ProbeError("resolve " + host + ": no address of an allowed family");
}

double probe_stun(asio::io_context& io, const asio::ip::address& addr, std::uint16_t port, Clock::time_point deadline) {
    udp::socket sock(io);
    const udp::endpoint ep(addr, port);
    sock.open(ep.protocol());
    stun::TxId txid{};
    const auto tok = random_token(txid.size(), "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/");
    for (std::size_t i = 0; i < txid.size(); ++i) txid[i] = static_cast<std::uint8_t>(tok[i]);
    const auto req = stun::tailscale_request(txid);
    const auto start = Clock::now();
    const std::string what = "STUN " + ep.address().to_string() + ":" + std::to_string(port);
    run_op(
        io, deadline, what, [&](auto h) { sock.async_send_to(asio::buffer(req), ep, h); }, [&] { sock.close(); });
    std::array<std::uint8_t, 1500> buf{};
    // Skip anything that is not the answer to our transaction (late replies, strays).
    for (;;) {
        udp::endpoint from;
        std::size_t n = 0;
        run_op(
            io, deadline, what,
            [&](auto h) {
                sock.async_receive_from(asio::buffer(buf), from,
                                        [&n, h](const boost::system::error_code& e, std::size_t len) mutable {
                                            n = len;
                                            h(e);
                                        });
            },
            [&] { sock.close(); });
        if (stun::parse_response(std::span<const std::uint8_t>(buf.data(), n), txid)) return ms_since(start);
    }
}

std::string hex(const unsigned char* p, std::size_t n) {
    static const char* d = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out += d[p[i] >> 4];
        out += d[p[i] & 15];
    }
    return out;
}

struct DerpResult {
    double tls_ms = 0;
    double derp_ms = 0;
    std::string server_key;
};

DerpResult probe_derp(asio::io_context& io, const asio::ip::address& addr, const json& node,
                      Clock::time_point deadline) {
    const auto host = node.value("HostName", "");
    const long long port_cfg = node.value("DERPPort", 0LL);
    const auto port = static_cast<std::uint16_t>(port_cfg == 0 ? 443 : port_cfg);
    const auto cert_name = node.value("CertName", "");
    const bool insecure = node.value("InsecureForTests", false);
    const bool pinned = cert_name.rfind("sha256-raw:", 0) == 0;
    const tcp::endpoint ep(addr, port);
    const std::string where = ep.address().to_string() + ":" + std::to_string(port);

    ssl::context ctx(ssl::context::tls_client);
    ctx.set_default_verify_paths();
    ssl::stream<tcp::socket> s(io, ctx);
    if (insecure || pinned) {
        s.set_verify_mode(ssl::verify_none);
    } else {
        s.set_verify_mode(ssl::verify_peer);
        s.set_verify_callback(ssl::host_name_verification(cert_name.empty() ? host : cert_name));
    }
    const std::string sni = cert_name.empty() || pinned ? host : cert_name;
    if (!literal(sni)) SSL_set_tlsext_host_name(s.native_handle(), sni.c_str());

    DerpResult r;
    const auto cancel = [&] { s.lowest_layer().close(); };
    run_op(
        io, deadline, "connect " + where, [&](auto h) { s.lowest_layer().async_connect(ep, h); }, cancel);
    const auto tls_start = Clock::now();
    run_op(
        io, deadline, "TLS handshake with " + where, [&](auto h) { s.async_handshake(ssl::stream_base::client, h); },
        cancel);
    r.tls_ms = ms_since(tls_start);
    if (pinned) {
        X509* cert = SSL_get1_peer_certificate(s.native_handle());
        if (!cert) throw ProbeError("TLS " + where + ": no peer certificate");
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        const int okd = X509_digest(cert, EVP_sha256(), md, &len);
        X509_free(cert);
        if (!okd) throw ProbeError("TLS " + where + ": cannot hash the peer certificate");
        const auto got = hex(md, len);
        if ("sha256-raw:" + got != cert_name)
            throw ProbeError("TLS " + where + ": certificate sha256 " + got + " does not match CertName " + cert_name);
    }

    const auto derp_start = Clock::now();
    const std::string req = "GET /derp HTTP/1.1\r\nHost: " + host +
                            "\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n"
                            "User-Agent: hs-derpmap-probe\r\n\r\n";
    run_op(
        io, deadline, "DERP request to " + where, [&](auto h) { asio::async_write(s, asio::buffer(req), h); }, cancel);
    std::string buf;
    run_op(
        io, deadline, "DERP response from " + where,
        [&](auto h) { asio::async_read_until(s, asio::dynamic_buffer(buf), "\r\n\r\n", h); }, cancel);
    const auto head_end = buf.find("\r\n\r\n") + 4;
    const auto status_line = buf.substr(0, buf.find("\r\n"));
    if (status_line.find(" 101") == std::string::npos)
        throw ProbeError("DERP " + where + ": expected 101 Switching Protocols, got \"" + status_line + "\"");
    buf.erase(0, head_end);
    const auto need = [&](std::size_t n) {
        if (buf.size() >= n) return;
        run_op(
            io, deadline, "DERP ServerKey from " + where,
            [&](auto h) { asio::async_read(s, asio::dynamic_buffer(buf), asio::transfer_at_least(n - buf.size()), h); },
            cancel);
    };
    need(derp::kHeaderLen);
    const auto type = static_cast<std::uint8_t>(buf[0]);
    const std::uint32_t len = (static_cast<std::uint32_t>(static_cast<std::uint8_t>(buf[1])) << 24) |
                              (static_cast<std::uint32_t>(static_cast<std::uint8_t>(buf[2])) << 16) |
                              (static_cast<std::uint32_t>(static_cast<std::uint8_t>(buf[3])) << 8) |
                              static_cast<std::uint32_t>(static_cast<std::uint8_t>(buf[4]));
    if (type != static_cast<std::uint8_t>(derp::FrameType::ServerKey) || len > 4096)
        throw ProbeError("DERP " + where + ": first frame is not a ServerKey frame");
    need(derp::kHeaderLen + len);
    const auto* p = reinterpret_cast<const std::uint8_t*>(buf.data()) + derp::kHeaderLen;
    try {
        const auto key = derp::parse_server_key(derp::ByteView(p, len));
        r.server_key = key_text(kNodePrefix, key.bytes);
    } catch (const std::exception& e) {
        throw ProbeError("DERP " + where + ": " + e.what());
    }
    r.derp_ms = ms_since(derp_start);
    boost::system::error_code ignored;
    s.lowest_layer().close(ignored);
    return r;
}

std::string fmt_ms(const std::optional<double>& v) {
    if (!v) return "-";
    char b[32];
    std::snprintf(b, sizeof b, "%.1fms", *v);
    return b;
}

}  // namespace

std::function<int()> add_probe(CLI::App& app) {
    struct Opts {
        std::string in;
        std::string format = "table";
        std::string timeout = "3s";
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("probe",
                                   "Measure every node of a map: STUN round trip, TLS handshake and "
                                   "certificate check, DERP handshake. Exit 1 when any node fails.");
    cmd->add_option("file", o->in, "Map file (default: stdin)");
    cmd->add_option("-o,--output", o->format, "table, or json (one JSON object per node)")
        ->check(CLI::IsMember({"table", "json"}))
        ->capture_default_str();
    cmd->add_option("--timeout", o->timeout, "Limit for each node's STUN and for its TLS+DERP exchange")
        ->capture_default_str();
    return [o] {
        const auto timeout = parse_duration(o->timeout);
        if (timeout.count() <= 0) throw std::invalid_argument("--timeout must be positive");
        const auto m = read_map(o->in);
        std::vector<std::pair<long long, std::string>> ids;
        for (const auto& [id, r] : m.map["Regions"].items()) ids.emplace_back(std::stoll(id), id);
        std::sort(ids.begin(), ids.end());
        asio::io_context io;
        bool any_failed = false;
        std::string out;
        if (o->format == "table") {
            char line[256];
            std::snprintf(line, sizeof line, "%-8s %-12s %-28s %-10s %-10s %-10s %s\n", "REGION", "NODE", "ADDRESS",
                          "STUN", "TLS", "DERP", "STATUS");
            out += line;
        }
        for (const auto& [num, id] : ids) {
            const auto& r = m.map["Regions"][id];
            if (r.is_null() || !r.contains("Nodes")) continue;
            for (const auto& node : r["Nodes"]) {
                std::optional<double> stun_ms, tls_ms, derp_ms;
                std::vector<std::string> errors;
                std::string addr_text = "-";
                std::string server_key;
                try {
                    const auto addr = dial_address(io, node, Clock::now() + timeout);
                    addr_text = addr.to_string();
                    const long long sp = node.value("STUNPort", 0LL);
                    if (sp >= 0) {
                        try {
                            auto stun_addr = addr;
                            if (const auto t = literal(node.value("STUNTestIP", ""))) stun_addr = *t;
                            stun_ms = probe_stun(io, stun_addr, static_cast<std::uint16_t>(sp == 0 ? 3478 : sp),
                                                 Clock::now() + timeout);
                        } catch (const std::exception& e) {
                            errors.push_back(e.what());
                        }
                    }
                    if (!node.value("STUNOnly", false)) {
                        try {
                            const auto d = probe_derp(io, addr, node, Clock::now() + timeout);
                            tls_ms = d.tls_ms;
                            derp_ms = d.derp_ms;
                            server_key = d.server_key;
                        } catch (const std::exception& e) {
                            errors.push_back(e.what());
                        }
                    }
                } catch (const std::exception& e) {
                    errors.push_back(e.what());
                }
                std::string status;
                for (const auto& e : errors) status += (status.empty() ? "" : "; ") + e;
                if (!errors.empty()) any_failed = true;
                const auto name = node.value("Name", "");
                if (o->format == "json") {
                    json j = {
                        {"region", num}, {"node", name}, {"host", node.value("HostName", "")}, {"address", addr_text}};
                    j["stun_ms"] = stun_ms ? json(*stun_ms) : json(nullptr);
                    j["tls_ms"] = tls_ms ? json(*tls_ms) : json(nullptr);
                    j["derp_ms"] = derp_ms ? json(*derp_ms) : json(nullptr);
                    if (!server_key.empty()) j["server_key"] = server_key;
                    j["ok"] = errors.empty();
                    if (!errors.empty()) j["error"] = status;
                    out += j.dump() + "\n";
                } else {
                    char line[256];
                    std::snprintf(line, sizeof line, "%-8lld %-12s %-28s %-10s %-10s %-10s ", num, name.c_str(),
                                  addr_text.c_str(), fmt_ms(stun_ms).c_str(), fmt_ms(tls_ms).c_str(),
                                  fmt_ms(derp_ms).c_str());
                    out += line + (errors.empty() ? std::string("ok") : "FAILED: " + status) + "\n";
                }
            }
        }
        std::fwrite(out.data(), 1, out.size(), stdout);
        std::fflush(stdout);
        return any_failed ? 1 : 0;
    };
}

}  // namespace hs::derpmap
