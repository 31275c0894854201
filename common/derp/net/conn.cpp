#include "common/derp/net/conn.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sodium.h>

#include <algorithm>
#include <cctype>

#include "common/base/log.h"

namespace hs::derp {
namespace {

using Clock = std::chrono::steady_clock;

// Shared by the reader (the serve_conn coroutine) and the writer, and reachable from the
// relay's hooks through a weak pointer; everything runs on the stream's executor.
struct Conn : std::enable_shared_from_this<Conn> {
    Conn(std::shared_ptr<ByteStream> s, std::string r)
        : stream(std::move(s)), remote(std::move(r)), wake(stream->get_executor()), deadline(stream->get_executor()) {}

    std::shared_ptr<ByteStream> stream;
    std::string remote;
    net::steady_timer wake;      // the writer sleeps here; cancel() wakes it
    net::steady_timer deadline;  // closes the connection when an I/O step overruns
    std::shared_ptr<DerpServer::Client> client;
    bool closed = false;

    void close() {
        if (closed) return;
        closed = true;
        stream->close();
        wake.cancel();
        deadline.cancel();
    }

    void arm(std::chrono::milliseconds d) {
        if (d.count() <= 0) return;
        deadline.expires_after(d);
        deadline.async_wait([w = weak_from_this()](const beast::error_code& ec) {
            if (ec) return;
            if (auto self = w.lock()) self->close();
        });
    }
    void disarm() { deadline.cancel(); }
};

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

bool valid_challenge(std::string_view c) {
    if (c.empty() || c.size() > 64) return false;
    return std::all_of(c.begin(), c.end(), [](unsigned char ch) {
        return std::isalnum(ch) || ch == '.' || ch == '_' || ch == ':' || ch == '-';
    });
}

net::awaitable<void> writer(std::shared_ptr<Conn> c, ConnOptions opts) {
    const auto timeout = c->client->is_mesh() ? opts.mesh_write_timeout : opts.write_timeout;
    const auto max_jitter = static_cast<std::uint32_t>(std::max<std::int64_t>(opts.keepalive_jitter.count(), 0));
    const std::chrono::milliseconds jitter(max_jitter ? randombytes_uniform(max_jitter) : 0);
    auto next_keepalive = Clock::now() + opts.keepalive + jitter;
    std::vector<Bytes> frames;
    Bytes out;
    while (!c->closed) {
        frames.clear();
        c->client->drain(frames);
        if (frames.empty()) {
            if (Clock::now() < next_keepalive) {
                c->wake.expires_at(next_keepalive);
                beast::error_code ec;
                co_await c->wake.async_wait(net::redirect_error(net::use_awaitable, ec));
                continue;
            }
            frames.push_back(encode_keepalive());
        }
        // One contiguous write per burst: TLS then makes few records and the kernel few packets.
        out.clear();
        for (const auto& f : frames) out.insert(out.end(), f.begin(), f.end());
        try {
            c->arm(timeout);
            co_await c->stream->write(net::buffer(out));
            c->disarm();
        } catch (const std::exception& e) {
            std::size_t packets = 0;
            for (const auto& f : frames)
                if (static_cast<FrameType>(f[0]) == FrameType::RecvPacket) ++packets;
            c->client->note_write_error(packets, 0);
            spdlog::debug("derp: write to {} failed: {}", c->remote, e.what());
            c->close();
            break;
        }
        next_keepalive = Clock::now() + opts.keepalive + jitter;
        if (out.capacity() > (256u << 10)) Bytes().swap(out);  // a burst's buffer is not kept while idle
    }
}

// Reads until `dec` yields a frame; the stream's error (end of file included) is thrown.
net::awaitable<Frame> read_frame(Conn& c, FrameDecoder& dec) {
    for (;;) {
        if (auto f = dec.next()) co_return std::move(*f);
        const std::size_t n = co_await c.stream->read_some([&] {
            const auto space = dec.prepare(32 << 10);
            return net::buffer(space.data(), space.size());
        }());
        dec.commit(n);
    }
}

}  // namespace

net::awaitable<void> serve_conn(std::shared_ptr<ByteStream> stream, DerpServer& server, ConnMeta meta,
                                std::string remote, std::string preread, ConnOptions opts) {
    auto c = std::make_shared<Conn>(std::move(stream), std::move(remote));
    const auto ex = c->stream->get_executor();
    FrameDecoder dec(kMaxClientInfoLen);
    dec.feed(ByteView(reinterpret_cast<const std::uint8_t*>(preread.data()), preread.size()));
    std::string key_text_for_log = "(handshake)";
    try {
        c->arm(opts.handshake_timeout);
        const Bytes sk = encode_server_key(server.public_key());
        co_await c->stream->write(net::buffer(sk));
        const Frame f = co_await read_frame(*c, dec);
        if (f.type() != FrameType::ClientInfo) throw FrameError("first frame is not ClientInfo");
        const ClientHello hello = open_client_info(f.payload(), server.private_key());
        c->disarm();
        key_text_for_log = key_text(kNodePrefix, hello.key.bytes);

        std::weak_ptr<Conn> weak = c;
        ConnHooks hooks{
            [weak, ex] {
                net::post(ex, [weak] {
                    if (auto s = weak.lock()) s->wake.cancel();
                });
            },
            [weak, ex] {
                net::post(ex, [weak] {
                    if (auto s = weak.lock()) s->close();
                });
            },
        };
        if (opts.verify && !server.holds_mesh_key(hello.info) && !co_await opts.verify(hello.key, meta)) {
            server.note_refused();
            spdlog::warn("derp: refused {} from {}: the verify-client webhook did not allow it", key_text_for_log,
                         c->remote);
            c->close();
            co_return;
        }
        c->client = server.register_client(hello, meta, std::move(hooks));
        if (!c->client) {
            spdlog::warn("derp: refused {} from {}: not an admitted node key", key_text_for_log, c->remote);
            c->close();
            co_return;
        }
        spdlog::debug("derp: {} connected from {}{}", key_text_for_log, c->remote,
                      c->client->is_mesh() ? " (mesh peer)" : "");
        // ServerInfo must be the first frame after ServerKey, so the writer starts after it.
        c->arm(c->client->is_mesh() ? opts.mesh_write_timeout : opts.write_timeout);
        const Bytes si = encode_server_info(server.private_key(), hello.key);
        co_await c->stream->write(net::buffer(si));
        c->disarm();
        net::co_spawn(ex, writer(c, opts), net::detached);

        dec.set_max_payload(kMaxServerReadFrame);
        while (!c->closed) {
            Frame frame = co_await read_frame(*c, dec);
            server.handle_frame(c->client, std::move(frame));
        }
    } catch (const FrameError& e) {
        spdlog::info("derp: closing {} from {}: {}", key_text_for_log, c->remote, e.what());
    } catch (const std::exception& e) {
        spdlog::debug("derp: {} from {} gone: {}", key_text_for_log, c->remote, e.what());
    }
    if (c->client) {
        server.unregister_client(c->client);
        spdlog::debug("derp: {} disconnected", key_text_for_log);
    }
    c->close();
}

std::size_t detail::read_buffered_tls(ssl_st* ssl, net::mutable_buffer b, TlsTail& tail) {
    auto* p = static_cast<char*>(b.data());
    std::size_t got = 0;
    while (got < b.size()) {
        const int r = SSL_read(ssl, p + got, static_cast<int>(std::min<std::size_t>(b.size() - got, 1 << 30)));
        if (r > 0) {
            got += static_cast<std::size_t>(r);
            continue;
        }
        // Wanting I/O means the buffered records ran out: the next async read fetches more.
        // An end or an error is reported by the next read_some, after the bytes taken here.
        const int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN) tail = TlsTail::Eof;
        else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) tail = TlsTail::Failed;
        ERR_clear_error();
        break;
    }
    return got;
}

Upgrade upgrade_kind(const http::request_header<>& req) {
    const std::string up = lower(sv(req[http::field::upgrade]));
    if (up == "derp") return Upgrade::Derp;
    if (up != "websocket") return Upgrade::None;
    const std::string proto = lower(sv(req[http::field::sec_websocket_protocol]));
    return proto.find("derp") != std::string::npos ? Upgrade::WebSocket : Upgrade::Derp;
}

bool is_derp_path(std::string_view target) {
    const auto p = path_of(target);
    return p == "/derp" || p == "/derp/probe" || p == "/derp/latency-check" || p == "/generate_204";
}

http::response<http::string_body> derp_http_response(const http::request_header<>& req) {
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(true);
    const auto path = path_of(sv(req.target()));
    if (path == "/derp/probe" || path == "/derp/latency-check") {
        if (req.method() == http::verb::get || req.method() == http::verb::head) {
            res.result(http::status::ok);
            res.set(http::field::access_control_allow_origin, "*");
        } else {
            res.result(http::status::method_not_allowed);
            res.body() = "bogus probe method\n";
        }
    } else if (path == "/generate_204") {
        // Captive-portal detection: only a server that is really there can echo the challenge.
        const auto challenge = sv(req["X-Tailscale-Challenge"]);
        if (valid_challenge(challenge)) res.set("X-Tailscale-Response", "response " + std::string(challenge));
        res.set(http::field::cache_control, "no-cache, no-store, must-revalidate, no-transform, max-age=0");
        res.result(http::status::no_content);
    } else if (path == "/derp") {
        res.result(http::status::upgrade_required);
        // A client always asks for the upgrade; without the header a proxy most likely dropped it.
        res.body() = req[http::field::upgrade].empty()
                         ? "DERP requires connection upgrade; the request had no Upgrade header: a reverse proxy in "
                           "front of this server probably dropped it (it must pass Upgrade and Connection)\n"
                         : "DERP requires connection upgrade\n";
    } else {
        res.result(http::status::not_found);
        res.body() = "not found\n";
    }
    if (!res.body().empty()) res.set(http::field::content_type, "text/plain; charset=utf-8");
    // A 204 carries no Content-Length at all (RFC 9110 8.6).
    if (res.result() != http::status::no_content) res.prepare_payload();
    return res;
}

std::string switching_protocols(const PublicKey& server) {
    return "HTTP/1.1 101 Switching Protocols\r\n"
           "Upgrade: DERP\r\n"
           "Connection: Upgrade\r\n"
           "Derp-Version: " +
           std::to_string(kProtocolVersion) + "\r\nDerp-Public-Key: " + to_hex(server.bytes) + "\r\n\r\n";
}

IpAddr to_ipaddr(const net::ip::address& a) {
    IpAddr ip;
    if (a.is_v4()) {
        const auto b = a.to_v4().to_bytes();
        std::copy(b.begin(), b.end(), ip.b.begin());
        return ip;
    }
    const auto v6 = a.to_v6();
    if (v6.is_v4_mapped()) return to_ipaddr(net::ip::make_address_v4(net::ip::v4_mapped, v6));
    const auto b = v6.to_bytes();
    ip.v6 = true;
    std::copy(b.begin(), b.end(), ip.b.begin());
    return ip;
}

ConnMeta conn_meta(const net::ip::tcp::endpoint& remote, const http::request_header<>& req) {
    ConnMeta m;
    m.ip = to_ipaddr(remote.address());
    m.port = remote.port();
    m.not_ideal = !req["Ideal-Node"].empty();
    return m;
}

}  // namespace hs::derp
