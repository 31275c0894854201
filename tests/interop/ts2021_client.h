// The client side of TS2021 for the test tools: a TCP connection with deadlines, the Noise
// handshake and early payload, and HTTP/2 requests on top, written from the protocol notes in
// shared/reference/control-protocol.md. Every operation gives up after kTimeoutMs.
#pragma once

#include <fcntl.h>
#include <netdb.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>
#include "common/base/keys.h"
#include "common/control/noise.h"

namespace ts2021 {

using nlohmann::json;
using Bytes = std::vector<std::uint8_t>;

constexpr int kTimeoutMs = 10000;
constexpr std::uint16_t kCurrentVersion = 142;
constexpr std::string_view kEarlyMagic = "\xff\xff\xffTS";

// The server did something other than what the probe expects; what() says what it did.
struct Unexpected : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Url {
    std::string host, port;
    std::string authority() const { return host + ":" + port; }
};

// http://HOST:PORT[/...]; the lab only uses IPv4 literals, so no [IPv6] form.
inline Url parse_url(std::string_view url) {
    constexpr std::string_view scheme = "http://";
    if (!url.starts_with(scheme)) throw std::invalid_argument("URL must start with http://");
    auto rest = url.substr(scheme.size());
    rest = rest.substr(0, rest.find('/'));
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size())
        throw std::invalid_argument("URL needs a host and a port");
    return {std::string(rest.substr(0, colon)), std::string(rest.substr(colon + 1))};
}

inline std::string json_quoted(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
    return json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
}

inline std::string hex_prefix(std::string_view data, std::size_t max = 16) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < std::min(max, data.size()); ++i) {
        const auto b = static_cast<unsigned char>(data[i]);
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    if (data.size() > max) out += "...";
    return out;
}

inline std::string base64(std::span<const std::uint8_t> data) {
    std::string out(sodium_base64_ENCODED_LEN(data.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), data.data(), data.size(), sodium_base64_VARIANT_ORIGINAL);
    out.resize(std::strlen(out.c_str()));
    return out;
}

inline Bytes random_bytes(std::size_t n) {
    Bytes b(n);
    randombytes_buf(b.data(), b.size());
    return b;
}

struct HttpHead {
    int status = 0;
    std::map<std::string, std::string> headers;  // names in lower case
    std::string header(const std::string& name) const {
        const auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

// A TCP connection whose every operation gives up after kTimeoutMs, with the bytes read but not
// yet consumed kept in front of the socket.
class Conn {
public:
    enum class End { Open, Closed, Reset };

    explicit Conn(const Url& url) {
        addrinfo hints{};
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* res = nullptr;
        if (const int rc = getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &res); rc != 0)
            throw std::runtime_error("cannot resolve " + url.host + ": " + gai_strerror(rc));
        std::string why = "no address";
        for (auto* ai = res; ai && fd_ < 0; ai = ai->ai_next) {
            const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
            if (fd < 0) continue;
            int err = 0;
            if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
                err = errno;
                if (err == EINPROGRESS) {
                    socklen_t len = sizeof err;
                    if (!wait(fd, POLLOUT)) err = ETIMEDOUT;
                    else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
                }
            }
            if (err == 0) fd_ = fd;
            else {
                why = std::strerror(err);
                ::close(fd);
            }
        }
        freeaddrinfo(res);
        if (fd_ < 0) throw std::runtime_error("cannot connect to " + url.authority() + ": " + why);
    }
    ~Conn() { ::close(fd_); }
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    void write(std::span<const std::uint8_t> data) {
        while (!data.empty()) {
            const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n > 0) {
                data = data.subspan(static_cast<std::size_t>(n));
            } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                if (!wait(fd_, POLLOUT)) throw Unexpected("the server took nothing from the socket for 10 s");
            } else {
                throw Unexpected(std::string("sending failed: ") + std::strerror(errno));
            }
        }
    }
    void write(std::string_view s) { write({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}); }

    // Moves the next bytes from the socket into the buffer; says whether the peer has gone.
    End fill() {
        char buf[16384];
        for (;;) {
            if (!wait(fd_, POLLIN)) throw Unexpected("nothing arrived from the server for 10 s");
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n > 0) {
                pending_.append(buf, static_cast<std::size_t>(n));
                return End::Open;
            }
            if (n == 0) return End::Closed;
            if (errno == ECONNRESET) return End::Reset;
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                throw Unexpected(std::string("receiving failed: ") + std::strerror(errno));
        }
    }

    std::string read_exact(std::size_t n, std::string_view what) {
        while (pending_.size() < n)
            if (fill() != End::Open)
                throw Unexpected("the server closed the connection before " + std::string(what) + " (got " +
                                 std::to_string(pending_.size()) + " of " + std::to_string(n) +
                                 " bytes: " + hex_prefix(pending_) + ")");
        return take(n);
    }

    // Whatever is buffered, or the next read; empty once the peer has closed.
    std::string read_some() {
        if (pending_.empty() && fill() != End::Open) return {};
        return take(pending_.size());
    }

    HttpHead read_head() {
        std::size_t end;
        while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
            if (pending_.size() > 65536) throw Unexpected("an HTTP response header longer than 64 KiB");
            if (fill() != End::Open)
                throw Unexpected("the server closed the connection without an HTTP response" +
                                 (pending_.empty() ? std::string() : " (sent " + json_quoted(pending_) + ")"));
        }
        const std::string head = take(end + 4);
        HttpHead h;
        const auto line_end = head.find("\r\n");
        const std::string status_line = head.substr(0, line_end);
        if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12)
            throw Unexpected("a malformed HTTP status line " + json_quoted(status_line));
        std::from_chars(status_line.data() + 9, status_line.data() + 12, h.status);
        for (std::size_t pos = line_end + 2; pos < head.size();) {
            const auto eol = head.find("\r\n", pos);
            const std::string line = head.substr(pos, eol - pos);
            pos = eol + 2;
            const auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            std::string name = line.substr(0, colon);
            std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
            const auto v = line.find_first_not_of(" \t", colon + 1);
            h.headers[name] = v == std::string::npos ? "" : line.substr(v, line.find_last_not_of(" \t") + 1 - v);
        }
        return h;
    }

    std::string read_body(const HttpHead& h) {
        const auto length = h.header("content-length");
        if (!length.empty()) {
            std::size_t n = 0;
            std::from_chars(length.data(), length.data() + length.size(), n);
            if (n > (1 << 20)) throw Unexpected("a response body of " + length + " bytes");
            return read_exact(n, "the end of the response body");
        }
        while (fill() == End::Open) {}
        return take(pending_.size());
    }

    // Reads until the server closes. Returns what it sent meanwhile; throws if it stays open.
    std::string wait_close(End* how = nullptr) {
        for (;;) {
            if (!wait(fd_, POLLIN))
                throw Unexpected("the connection was still open 10 s later" +
                                 (pending_.empty() ? std::string() : " (server sent " + hex_prefix(pending_) + ")"));
            if (const End e = fill(); e != End::Open) {
                if (how) *how = e;
                return take(pending_.size());
            }
        }
    }

private:
    static bool wait(int fd, short events) {
        pollfd p{fd, events, 0};
        int rc;
        while ((rc = ::poll(&p, 1, kTimeoutMs)) < 0 && errno == EINTR) {}
        return rc > 0;
    }

    std::string take(std::size_t n) {
        std::string out = pending_.substr(0, n);
        pending_.erase(0, n);
        return out;
    }

    int fd_ = -1;
    std::string pending_;
};

inline std::string http_request(const Url& url, std::string_view method, std::string_view target,
                                std::string_view headers) {
    return std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: " + url.authority() +
           "\r\nUser-Agent: hs-ts2021-probe\r\n" + std::string(headers) + "Content-Length: 0\r\n\r\n";
}

inline std::string upgrade_request(const Url& url, std::string_view handshake) {
    return http_request(url, "POST", "/ts2021",
                        "Upgrade: tailscale-control-protocol\r\nConnection: upgrade\r\nX-Tailscale-Handshake: " +
                            std::string(handshake) + "\r\n");
}

// Sends an upgrade and insists on 101: the probes that use it test what follows the upgrade.
inline void upgrade(Conn& c, const Url& url, std::string_view handshake) {
    c.write(upgrade_request(url, handshake));
    const auto head = c.read_head();
    if (head.status != 101)
        throw Unexpected("HTTP " + std::to_string(head.status) + " " + json_quoted(c.read_body(head)) +
                         " instead of 101");
    if (head.header("upgrade") != "tailscale-control-protocol")
        throw Unexpected("101 with Upgrade " + json_quoted(head.header("upgrade")) +
                         " (clients need exactly tailscale-control-protocol)");
}

inline hs::PublicKey server_key(const Url& url) {
    Conn c(url);
    c.write(http_request(url, "GET", "/key?v=" + std::to_string(kCurrentVersion), "Connection: close\r\n"));
    const auto head = c.read_head();
    const auto body = c.read_body(head);
    if (head.status != 200) throw Unexpected("GET /key answered HTTP " + std::to_string(head.status));
    const auto j = json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("publicKey") || !j["publicKey"].is_string())
        throw Unexpected("GET /key answered " + json_quoted(body) + ", which has no publicKey");
    try {
        return {hs::parse_key_text(j["publicKey"].get<std::string>(), hs::kMachinePrefix)};
    } catch (const hs::KeyError& e) {
        throw Unexpected(std::string("GET /key gave a bad publicKey: ") + e.what());
    }
}

// A connection past the Noise handshake and the early payload: what a real client has before it
// starts HTTP/2.
class Session {
public:
    Session(const Url& url, std::uint16_t version) : conn(url) {
        const auto machine = hs::PrivateKey::generate();
        machine_key = hs::key_text(hs::kMachinePrefix, machine.public_key().bytes);
        const auto init = hs::noise_initiate(machine, server_key(url), version);
        upgrade(conn, url, base64(init.message));
        const auto header = conn.read_exact(3, "the handshake response");
        const std::size_t len = static_cast<unsigned char>(header[1]) << 8 | static_cast<unsigned char>(header[2]);
        if (header[0] != hs::kNoiseTypeResponse && header[0] != hs::kNoiseTypeError)
            throw Unexpected("handshake response starting " + hex_prefix(header));
        const auto msg = header + conn.read_exact(len, "the end of the handshake response");
        hs::NoiseKeys keys;
        try {
            keys = hs::noise_finish(init, {reinterpret_cast<const std::uint8_t*>(msg.data()), msg.size()});
        } catch (const hs::NoiseError& e) {
            throw Unexpected(std::string("handshake failed: ") + e.what());
        }
        sealer_ = std::make_unique<hs::NoiseSealer>(keys.tx_key);
        opener_ = std::make_unique<hs::NoiseOpener>(keys.rx_key);

        need(9);
        if (std::string_view(reinterpret_cast<const char*>(plain.data()), 5) != kEarlyMagic)
            throw Unexpected("no early payload: the first plaintext was " +
                             hex_prefix({reinterpret_cast<const char*>(plain.data()), 9}));
        const std::size_t elen =
            std::size_t{plain[5]} << 24 | std::size_t{plain[6]} << 16 | std::size_t{plain[7]} << 8 | plain[8];
        if (elen > (1 << 20)) throw Unexpected("an early payload of " + std::to_string(elen) + " bytes");
        need(9 + elen);
        early = json::parse(plain.begin() + 9, plain.begin() + 9 + static_cast<std::ptrdiff_t>(elen), nullptr, false);
        if (!early.is_object()) throw Unexpected("an early payload that is not a JSON object");
        plain.erase(plain.begin(), plain.begin() + 9 + static_cast<std::ptrdiff_t>(elen));
    }

    // Decrypts until at least n plaintext bytes are buffered.
    void need(std::size_t n) {
        while (plain.size() < n)
            if (!receive()) throw Unexpected("the server closed the connection after the handshake");
    }

    // Decrypts what arrives next into `plain`; false once the server has closed.
    bool receive() {
        const auto in = conn.read_some();
        if (in.empty()) return false;
        try {
            opener_->feed({reinterpret_cast<const std::uint8_t*>(in.data()), in.size()}, plain);
        } catch (const hs::NoiseError& e) {
            throw Unexpected(std::string("a bad transport record from the server: ") + e.what());
        }
        return true;
    }

    void send(std::span<const std::uint8_t> data) {
        Bytes out;
        sealer_->seal(data, out);
        conn.write(out);
    }

    Conn conn;
    Bytes plain;  // decrypted, not yet consumed
    json early;
    std::string machine_key;  // "mkey:...", the Noise static key this session presented

private:
    std::unique_ptr<hs::NoiseSealer> sealer_;
    std::unique_ptr<hs::NoiseOpener> opener_;
};

// ---- HTTP/2 client (prior knowledge, one request) ---------------------------------------------

struct H2Call {
    std::int32_t stream_id = -1;
    int status = 0;
    std::string response;
    bool done = false;
    std::uint32_t error_code = 0;
    std::string request;
    std::size_t sent = 0;
};

inline int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t namelen,
                     const std::uint8_t* value, std::size_t valuelen, std::uint8_t, void* user) {
    auto* call = static_cast<H2Call*>(user);
    const std::string_view n(reinterpret_cast<const char*>(name), namelen);
    if (frame->hd.stream_id == call->stream_id && n == ":status") {
        const auto* v = reinterpret_cast<const char*>(value);
        std::from_chars(v, v + valuelen, call->status);
    }
    return 0;
}

inline int on_data(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data, std::size_t len,
                   void* user) {
    auto* call = static_cast<H2Call*>(user);
    if (id == call->stream_id) call->response.append(reinterpret_cast<const char*>(data), len);
    return 0;
}

inline int on_close(nghttp2_session*, std::int32_t id, std::uint32_t error_code, void* user) {
    auto* call = static_cast<H2Call*>(user);
    if (id == call->stream_id) {
        call->done = true;
        call->error_code = error_code;
    }
    return 0;
}

inline ssize_t read_request(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length, std::uint32_t* flags,
                            nghttp2_data_source*, void* user) {
    auto* call = static_cast<H2Call*>(user);
    const std::size_t n = std::min(length, call->request.size() - call->sent);
    std::memcpy(buf, call->request.data() + call->sent, n);
    call->sent += n;
    if (call->sent == call->request.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
}

inline nghttp2_nv nv(std::string_view name, std::string_view value) {
    // nghttp2 copies the names and values (no NO_COPY flags), so the casts never lead to writes.
    return {const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(name.data())),
            const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(value.data())), name.size(), value.size(),
            NGHTTP2_NV_FLAG_NONE};
}

inline H2Call post(Session& s, const Url& url, std::string_view path, std::string body) {
    H2Call call;
    call.request = std::move(body);
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
    nghttp2_session* raw = nullptr;
    const int rc = nghttp2_session_client_new(&raw, cbs, &call);
    nghttp2_session_callbacks_del(cbs);
    if (rc != 0) throw std::runtime_error(std::string("nghttp2: ") + nghttp2_strerror(rc));
    const std::unique_ptr<nghttp2_session, decltype(&nghttp2_session_del)> h2(raw, nghttp2_session_del);

    nghttp2_submit_settings(h2.get(), NGHTTP2_FLAG_NONE, nullptr, 0);
    const auto authority = url.authority();
    const auto length = std::to_string(call.request.size());
    const nghttp2_nv hdrs[] = {nv(":method", "POST"),
                               nv(":scheme", "https"),
                               nv(":authority", authority),
                               nv(":path", path),
                               nv("content-type", "application/json"),
                               nv("content-length", length)};
    nghttp2_data_provider provider{};
    provider.read_callback = read_request;
    call.stream_id = nghttp2_submit_request(h2.get(), nullptr, hdrs, std::size(hdrs), &provider, &call);
    if (call.stream_id < 0) throw std::runtime_error(std::string("nghttp2: ") + nghttp2_strerror(call.stream_id));

    for (;;) {
        if (!s.plain.empty()) {
            const auto n = nghttp2_session_mem_recv(h2.get(), s.plain.data(), s.plain.size());
            if (n < 0)
                throw Unexpected(std::string("HTTP/2 error in the server's frames: ") +
                                 nghttp2_strerror(static_cast<int>(n)));
            s.plain.clear();
        }
        if (call.done) break;
        Bytes out;
        const std::uint8_t* data = nullptr;
        ssize_t n;
        while ((n = nghttp2_session_mem_send(h2.get(), &data)) > 0) out.insert(out.end(), data, data + n);
        if (n < 0) throw std::runtime_error(std::string("nghttp2: ") + nghttp2_strerror(static_cast<int>(n)));
        if (!out.empty()) s.send(out);
        if (!nghttp2_session_want_read(h2.get()))
            throw Unexpected("the server ended the HTTP/2 session before answering");
        if (!s.receive()) throw Unexpected("the server closed the connection before answering " + std::string(path));
    }
    if (call.error_code != 0)
        throw Unexpected("the server reset the request stream (HTTP/2 error " + std::to_string(call.error_code) + ")");
    return call;
}

inline json register_request(int version, const std::string& auth_key, const std::string& hostname) {
    return {{"Version", version},
            {"NodeKey", hs::key_text(hs::kNodePrefix, hs::PrivateKey::generate().public_key().bytes)},
            {"Auth", {{"AuthKey", auth_key}}},
            {"Expiry", "0001-01-01T00:00:00Z"},
            {"Followup", ""},
            {"Hostinfo", {{"Hostname", hostname}}}};
}

// Registers a fresh machine and node key; returns the JSON object the server answered with 200.
inline json do_register(const Url& url, int version, const std::string& auth_key, const std::string& hostname) {
    Session s(url, static_cast<std::uint16_t>(version));
    // On stderr, so stdout stays the server's JSON: a test looks for this key in the server's log.
    std::cerr << "machine key " << s.machine_key << "\n";
    const auto call = post(s, url, "/machine/register", register_request(version, auth_key, hostname).dump());
    const auto body = json::parse(call.response, nullptr, false);
    if (call.status != 200)
        throw Unexpected("HTTP " + std::to_string(call.status) + " " + json_quoted(call.response) + " instead of 200");
    if (!body.is_object())
        throw Unexpected("HTTP 200 with a body that is not a JSON object: " + json_quoted(call.response));
    return body;
}

}  // namespace ts2021
