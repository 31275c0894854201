// DERP over Asio: one coroutine per client connection on an already upgraded stream, and the
// HTTP side of /derp (upgrade, probes, captive-portal check) that hs-derper and hs-control
// share. The relay logic itself is DerpServer (derp/server.h); this file only moves bytes.
//
// Executors: a connection's coroutines and timers run on the stream's executor. When the
// io_context runs on several threads, give each accepted socket its own strand
// (acceptor.async_accept(net::make_strand(ioc), ...)).
// TLS + WebSocket users also include <boost/beast/websocket/ssl.hpp>.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "common/net/asio.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "common/derp/server.h"

struct ssl_st;

namespace hs::derp {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// The byte stream under one DERP connection, whatever carries it (TCP, TLS, WebSocket).
class ByteStream {
public:
    virtual ~ByteStream() = default;
    virtual net::any_io_executor get_executor() = 0;
    virtual net::awaitable<std::size_t> read_some(net::mutable_buffer b) = 0;
    // Writes all of `b` or throws.
    virtual net::awaitable<void> write(net::const_buffer b) = 0;
    // Ends the connection at once; pending reads and writes complete with an error.
    virtual void close() = 0;
};

namespace detail {
// What a direct SSL_read found after the engine's buffered records ran out.
enum class TlsTail { More, Eof, Failed };
// Moves records the TLS engine already holds (they came in with the last socket read) into
// `b` without another trip through the event loop. Returns the bytes copied.
std::size_t read_buffered_tls(ssl_st* ssl, net::mutable_buffer b, TlsTail& tail);

template <class S>
void close_lowest(S& s) {
    auto& l = beast::get_lowest_layer(s);
    beast::error_code ec;
    if constexpr (requires { l.socket(); }) {
        l.socket().shutdown(net::socket_base::shutdown_both, ec);
        l.socket().close(ec);
    } else {
        l.shutdown(net::socket_base::shutdown_both, ec);
        l.close(ec);
    }
}
}  // namespace detail

// Any Asio/Beast byte stream: tcp::socket, beast::tcp_stream, ssl::stream<...>.
template <class Stream>
class AsioByteStream final : public ByteStream {
public:
    explicit AsioByteStream(Stream s) : s_(std::move(s)) {}
    net::any_io_executor get_executor() override { return s_.get_executor(); }
    net::awaitable<std::size_t> read_some(net::mutable_buffer b) override {
        if constexpr (requires {
                          { s_.native_handle() } -> std::same_as<ssl_st*>;
                      }) {
            // An async read of a TLS stream yields one record: one packet, from a real client.
            // Taking the records that came with it at once lets the relay route a burst before
            // the writers run, so they send several packets per syscall instead of one each
            // (3x the packets per CPU second in tests/bench/derp_bench.sh).
            if (tail_ == detail::TlsTail::Eof) throw boost::system::system_error(net::error::eof);
            if (tail_ == detail::TlsTail::Failed) throw boost::system::system_error(net::error::connection_aborted);
            std::size_t n = co_await s_.async_read_some(b, net::use_awaitable);
            n += detail::read_buffered_tls(s_.native_handle(), b + n, tail_);
            co_return n;
        } else {
            co_return co_await s_.async_read_some(b, net::use_awaitable);
        }
    }
    net::awaitable<void> write(net::const_buffer b) override { co_await net::async_write(s_, b, net::use_awaitable); }
    void close() override { detail::close_lowest(s_); }

private:
    Stream s_;
    detail::TlsTail tail_ = detail::TlsTail::More;
};

// DERP inside binary WebSocket messages; message and frame boundaries need not agree.
template <class Next>
class WebSocketByteStream final : public ByteStream {
public:
    explicit WebSocketByteStream(beast::websocket::stream<Next> ws) : ws_(std::move(ws)) {}
    net::any_io_executor get_executor() override { return ws_.get_executor(); }
    net::awaitable<std::size_t> read_some(net::mutable_buffer b) override {
        co_return co_await ws_.async_read_some(b, net::use_awaitable);
    }
    net::awaitable<void> write(net::const_buffer b) override { co_await ws_.async_write(b, net::use_awaitable); }
    void close() override { detail::close_lowest(ws_.next_layer()); }

private:
    beast::websocket::stream<Next> ws_;
};

struct ConnOptions {
    // Silence after which the server sends KeepAlive; the client gives up after 120 s.
    std::chrono::milliseconds keepalive{60000};
    // Up to this much is added to keepalive, once per connection, so clients spread out.
    std::chrono::milliseconds keepalive_jitter{5000};
    // For writing ServerKey and reading ClientInfo.
    std::chrono::milliseconds handshake_timeout{10000};
    // Per flush; a client that does not read is cut off. Zero means none.
    std::chrono::milliseconds write_timeout{5000};
    std::chrono::milliseconds mesh_write_timeout{30000};
    // Asked after ClientInfo opened, for clients without the mesh key, before the relay's own
    // admission hook; false refuses the connection. May take seconds (a webhook): only this
    // connection waits. Unset admits.
    std::function<net::awaitable<bool>(const PublicKey& key, const ConnMeta& meta)> verify;
};

// Runs the DERP protocol on `stream` until either side ends it: ServerKey, ClientInfo,
// admission, ServerInfo, then frames both ways with keepalives. `preread` holds bytes that
// arrived after the HTTP request headers (with fast start, the ClientInfo frame). `remote` is
// for logs. Never throws; every failure ends in closing the stream.
net::awaitable<void> serve_conn(std::shared_ptr<ByteStream> stream, DerpServer& server, ConnMeta meta,
                                std::string remote, std::string preread, ConnOptions opts = {});

// --- HTTP ----------------------------------------------------------------------------------------

enum class Upgrade {
    None,       // no acceptable Upgrade header: answer 426
    Derp,       // "Upgrade: DERP", or "websocket" without the derp subprotocol (old clients)
    WebSocket,  // "Upgrade: websocket" with Sec-WebSocket-Protocol containing "derp"
};
Upgrade upgrade_kind(const http::request_header<>& req);

// True for the paths this file answers (query ignored): /derp, /derp/probe,
// /derp/latency-check and /generate_204.
bool is_derp_path(std::string_view target);

// The answer to any request for is_derp_path() other than an acceptable /derp upgrade:
// probes 200 with an empty body (405 for methods other than GET and HEAD), /generate_204 with
// the challenge echoed in X-Tailscale-Response, and 426 for /derp without an upgrade.
http::response<http::string_body> derp_http_response(const http::request_header<>& req);

// The exact 101 response derper writes, server key in lowercase hex.
std::string switching_protocols(const PublicKey& server);

// Where a request came from, as the relay records it. IPv4-mapped addresses become IPv4.
ConnMeta conn_meta(const net::ip::tcp::endpoint& remote, const http::request_header<>& req);
IpAddr to_ipaddr(const net::ip::address& a);

// Takes over a connection whose request is a /derp upgrade (upgrade_kind != None): writes the
// 101 (unless the client asked for fast start) or completes the WebSocket handshake, then runs
// serve_conn. `buffer` holds what the HTTP reader read past the request; it is consumed.
template <class Stream, class Body>
net::awaitable<void> accept_derp(Stream stream, beast::flat_buffer& buffer, http::request<Body> req, DerpServer& server,
                                 ConnMeta meta, std::string remote, ConnOptions opts = {}) {
    // The HTTP timeouts of a beast::tcp_stream would cut a long-lived DERP connection.
    if constexpr (requires { beast::get_lowest_layer(stream).expires_never(); })
        beast::get_lowest_layer(stream).expires_never();
    std::shared_ptr<ByteStream> bs;
    if (upgrade_kind(req) == Upgrade::WebSocket) {
        beast::websocket::stream<Stream> ws(std::move(stream));
        ws.set_option(beast::websocket::stream_base::decorator(
            [](beast::websocket::response_type& res) { res.set(http::field::sec_websocket_protocol, "derp"); }));
        ws.binary(true);
        try {
            co_await ws.async_accept(req, net::use_awaitable);
        } catch (const std::exception&) {
            co_return;
        }
        bs = std::make_shared<WebSocketByteStream<Stream>>(std::move(ws));
    } else {
        // Fast start: the client already holds our key (from the TLS meta certificate) and
        // sent ClientInfo right after the request without waiting for a response.
        if (req["Derp-Fast-Start"] != "1") {
            const std::string resp = switching_protocols(server.public_key());
            try {
                co_await net::async_write(stream, net::buffer(resp), net::use_awaitable);
            } catch (const std::exception&) {
                co_return;
            }
        }
        bs = std::make_shared<AsioByteStream<Stream>>(std::move(stream));
    }
    const auto data = buffer.data();
    std::string preread(static_cast<const char*>(data.data()), data.size());
    buffer.consume(buffer.size());
    co_await serve_conn(std::move(bs), server, meta, std::move(remote), std::move(preread), opts);
}

}  // namespace hs::derp
