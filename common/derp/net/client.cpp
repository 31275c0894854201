#include "common/derp/net/client.h"

#include <openssl/ssl.h>

#include <charconv>
#include <stdexcept>

#include "common/base/netaddr.h"

namespace hs::derp {
namespace {

using tcp = net::ip::tcp;
using namespace std::chrono_literals;

// What the server may send before the blank line ending its upgrade response.
constexpr std::size_t kMaxResponseHead = 16 << 10;
// tailscaled bounds its whole connect (DNS, TCP, TLS, upgrade) by 10 s; so do we.
constexpr auto kDialTimeout = 10s;

bool is_ip_literal(const std::string& s) { return parse_ip(s).has_value(); }

std::uint16_t parse_port(std::string_view s, std::string_view whole) {
    unsigned v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || v == 0 || v > 65535)
        throw std::invalid_argument("\"" + std::string(whole) + "\": bad port \"" + std::string(s) + "\"");
    return static_cast<std::uint16_t>(v);
}

// "host", "host:port", "[v6]", "[v6]:port"; a bare IPv6 literal is taken whole.
void split_host_port(std::string_view hp, std::string_view whole, std::string& host, std::uint16_t& port) {
    port = 443;
    if (hp.starts_with('[')) {
        const auto close = hp.find(']');
        if (close == std::string_view::npos) throw std::invalid_argument("\"" + std::string(whole) + "\": missing ']'");
        host = std::string(hp.substr(1, close - 1));
        const auto rest = hp.substr(close + 1);
        if (rest.empty()) return;
        if (!rest.starts_with(':')) throw std::invalid_argument("\"" + std::string(whole) + "\": junk after ']'");
        port = parse_port(rest.substr(1), whole);
        return;
    }
    const auto colon = hp.find(':');
    if (colon != std::string_view::npos && hp.find(':', colon + 1) == std::string_view::npos) {
        host = std::string(hp.substr(0, colon));
        port = parse_port(hp.substr(colon + 1), whole);
    } else {
        host = std::string(hp);
    }
}

std::string host_header(const DialTarget& t) {
    std::string h = t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host;
    return t.port == 443 ? h : h + ":" + std::to_string(t.port);
}

using TlsStream = ssl::stream<tcp::socket>;

}  // namespace

DialTarget parse_dial_target(std::string_view text) {
    DialTarget t;
    const auto slash = text.find('/');
    const auto hp = text.substr(0, slash);
    if (slash != std::string_view::npos) {
        t.dial_host = std::string(text.substr(slash + 1));
        if (t.dial_host.empty() || t.dial_host.find('/') != std::string::npos)
            throw std::invalid_argument("\"" + std::string(text) + "\": expected HOST[:PORT][/DIALHOST]");
    }
    split_host_port(hp, text, t.host, t.port);
    if (t.host.empty()) throw std::invalid_argument("\"" + std::string(text) + "\": no host");
    return t;
}

std::string DialTarget::text() const { return host_header(*this) + (dial_host.empty() ? "" : "/" + dial_host); }

ssl::context client_tls_context(bool insecure) {
    ssl::context ctx(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    if (insecure) {
        ctx.set_verify_mode(ssl::verify_none);
    } else {
        ctx.set_default_verify_paths();
        ctx.set_verify_mode(ssl::verify_peer);
    }
    return ctx;
}

ClientConn::ClientConn(std::shared_ptr<ByteStream> s, std::string preread) : stream_(std::move(s)) {
    dec_.feed(ByteView(reinterpret_cast<const std::uint8_t*>(preread.data()), preread.size()));
}

net::awaitable<std::unique_ptr<ClientConn>> ClientConn::dial(net::any_io_executor ex, ssl::context& tls,
                                                             const DialTarget& t) {
    const std::string where = t.text();
    TlsStream s(ex, tls);
    // One deadline for every step; it closes the socket, which fails whatever step is pending.
    net::steady_timer deadline(ex);
    deadline.expires_after(kDialTimeout);
    bool timed_out = false;
    deadline.async_wait([&](const boost::system::error_code& ec) {
        if (ec) return;
        timed_out = true;
        boost::system::error_code ignored;
        s.lowest_layer().close(ignored);
    });
    std::string head;
    try {
        tcp::resolver resolver(ex);
        const auto addrs = co_await resolver.async_resolve(t.dial_host.empty() ? t.host : t.dial_host,
                                                           std::to_string(t.port), net::use_awaitable);
        co_await net::async_connect(s.lowest_layer(), addrs, net::use_awaitable);
        s.lowest_layer().set_option(tcp::no_delay(true));
        // Go sends no SNI for an IP literal; a name is checked against the certificate.
        if (!is_ip_literal(t.host)) SSL_set_tlsext_host_name(s.native_handle(), t.host.c_str());
        if (SSL_CTX_get_verify_mode(tls.native_handle()) & SSL_VERIFY_PEER)
            s.set_verify_callback(ssl::host_name_verification(t.host));
        co_await s.async_handshake(ssl::stream_base::client, net::use_awaitable);
        const std::string req = "GET /derp HTTP/1.1\r\nHost: " + host_header(t) +
                                "\r\nUser-Agent: hs-derp-client\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n\r\n";
        co_await net::async_write(s, net::buffer(req), net::use_awaitable);
        co_await net::async_read_until(s, net::dynamic_buffer(head, kMaxResponseHead), "\r\n\r\n", net::use_awaitable);
    } catch (const std::exception& e) {
        throw std::runtime_error("DERP dial " + where + ": " + (timed_out ? std::string("timed out") : e.what()));
    }
    deadline.cancel();
    const auto end = head.find("\r\n\r\n") + 4;
    const auto status = head.substr(0, head.find("\r\n"));
    if (!status.starts_with("HTTP/1.1 101"))
        throw std::runtime_error("DERP dial " + where + ": expected 101 Switching Protocols, got \"" + status + "\"");
    auto bs = std::make_shared<AsioByteStream<TlsStream>>(std::move(s));
    co_return std::unique_ptr<ClientConn>(new ClientConn(std::move(bs), head.substr(end)));
}

net::awaitable<Frame> ClientConn::read_frame() {
    for (;;) {
        if (auto f = dec_.next()) co_return std::move(*f);
        const auto space = dec_.prepare(16 << 10);
        const std::size_t n = co_await stream_->read_some(net::buffer(space.data(), space.size()));
        dec_.commit(n);
    }
}

net::awaitable<void> ClientConn::write(ByteView bytes) {
    co_await stream_->write(net::buffer(bytes.data(), bytes.size()));
}

net::awaitable<PublicKey> ClientConn::read_server_key() {
    const Frame f = co_await read_frame();
    if (f.type() != FrameType::ServerKey) throw FrameError("first frame is not ServerKey");
    server_key_ = parse_server_key(f.payload());
    co_return server_key_;
}

net::awaitable<ServerInfo> ClientConn::handshake(const PrivateKey& me, const ClientInfo& info) {
    co_await read_server_key();
    co_await write(encode_client_info(me, server_key_, info));
    const Frame f = co_await read_frame();
    if (f.type() != FrameType::ServerInfo) throw FrameError("frame after ClientInfo is not ServerInfo");
    co_return open_server_info(f.payload(), me, server_key_);
}

}  // namespace hs::derp
