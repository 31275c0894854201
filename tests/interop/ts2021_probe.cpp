// hs-ts2021-probe: sends one kind of bad (or deliberately old) TS2021 input to a control server
// and reports in one line how the server answered. test_control_rejections.sh runs it next to
// real clients to show that such input is refused cleanly and harms nobody else.
//
// Exit status: 0 when the server behaved as expected, 1 when it did not (or could not be
// reached), 2 for a usage error.
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include <nghttp2/nghttp2.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/keys.h"
#include "common/noise.h"

namespace {

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
Url parse_url(std::string_view url) {
    constexpr std::string_view scheme = "http://";
    if (!url.starts_with(scheme)) throw std::invalid_argument("URL must start with http://");
    auto rest = url.substr(scheme.size());
    rest = rest.substr(0, rest.find('/'));
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size())
        throw std::invalid_argument("URL needs a host and a port");
    return {std::string(rest.substr(0, colon)), std::string(rest.substr(colon + 1))};
}

std::string json_quoted(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
    return json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string hex_prefix(std::string_view data, std::size_t max = 16) {
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

std::string base64(std::span<const std::uint8_t> data) {
    std::string out(sodium_base64_ENCODED_LEN(data.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), data.data(), data.size(), sodium_base64_VARIANT_ORIGINAL);
    out.resize(std::strlen(out.c_str()));
    return out;
}

Bytes random_bytes(std::size_t n) {
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
                                 std::to_string(pending_.size()) + " of " + std::to_string(n) + " bytes: " +
                                 hex_prefix(pending_) + ")");
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
        while (fill() == End::Open) {
        }
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
        while ((rc = ::poll(&p, 1, kTimeoutMs)) < 0 && errno == EINTR) {
        }
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

std::string http_request(const Url& url, std::string_view method, std::string_view target, std::string_view headers) {
    return std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: " + url.authority() +
           "\r\nUser-Agent: hs-ts2021-probe\r\n" + std::string(headers) + "Content-Length: 0\r\n\r\n";
}

std::string upgrade_request(const Url& url, std::string_view handshake) {
    return http_request(url, "POST", "/ts2021",
                        "Upgrade: tailscale-control-protocol\r\nConnection: upgrade\r\nX-Tailscale-Handshake: " +
                            std::string(handshake) + "\r\n");
}

// Sends an upgrade and insists on 101: the probes that use it test what follows the upgrade.
void upgrade(Conn& c, const Url& url, std::string_view handshake) {
    c.write(upgrade_request(url, handshake));
    const auto head = c.read_head();
    if (head.status != 101) throw Unexpected("HTTP " + std::to_string(head.status) + " " + json_quoted(c.read_body(head)) + " instead of 101");
    if (head.header("upgrade") != "tailscale-control-protocol")
        throw Unexpected("101 with Upgrade " + json_quoted(head.header("upgrade")) + " (clients need exactly tailscale-control-protocol)");
}

hs::PublicKey server_key(const Url& url) {
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
            throw Unexpected("no early payload: the first plaintext was " + hex_prefix({reinterpret_cast<const char*>(plain.data()), 9}));
        const std::size_t elen = std::size_t{plain[5]} << 24 | std::size_t{plain[6]} << 16 | std::size_t{plain[7]} << 8 | plain[8];
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

int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t namelen,
              const std::uint8_t* value, std::size_t valuelen, std::uint8_t, void* user) {
    auto* call = static_cast<H2Call*>(user);
    const std::string_view n(reinterpret_cast<const char*>(name), namelen);
    if (frame->hd.stream_id == call->stream_id && n == ":status") {
        const auto* v = reinterpret_cast<const char*>(value);
        std::from_chars(v, v + valuelen, call->status);
    }
    return 0;
}

int on_data(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data, std::size_t len, void* user) {
    auto* call = static_cast<H2Call*>(user);
    if (id == call->stream_id) call->response.append(reinterpret_cast<const char*>(data), len);
    return 0;
}

int on_close(nghttp2_session*, std::int32_t id, std::uint32_t error_code, void* user) {
    auto* call = static_cast<H2Call*>(user);
    if (id == call->stream_id) {
        call->done = true;
        call->error_code = error_code;
    }
    return 0;
}

ssize_t read_request(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length, std::uint32_t* flags,
                     nghttp2_data_source*, void* user) {
    auto* call = static_cast<H2Call*>(user);
    const std::size_t n = std::min(length, call->request.size() - call->sent);
    std::memcpy(buf, call->request.data() + call->sent, n);
    call->sent += n;
    if (call->sent == call->request.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
}

nghttp2_nv nv(std::string_view name, std::string_view value) {
    // nghttp2 copies the names and values (no NO_COPY flags), so the casts never lead to writes.
    return {const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(name.data())),
            const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(value.data())), name.size(), value.size(),
            NGHTTP2_NV_FLAG_NONE};
}

H2Call post(Session& s, const Url& url, std::string_view path, std::string body) {
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
    const nghttp2_nv hdrs[] = {nv(":method", "POST"), nv(":scheme", "https"), nv(":authority", authority),
                               nv(":path", path), nv("content-type", "application/json"), nv("content-length", length)};
    nghttp2_data_provider provider{};
    provider.read_callback = read_request;
    call.stream_id = nghttp2_submit_request(h2.get(), nullptr, hdrs, std::size(hdrs), &provider, &call);
    if (call.stream_id < 0) throw std::runtime_error(std::string("nghttp2: ") + nghttp2_strerror(call.stream_id));

    for (;;) {
        if (!s.plain.empty()) {
            const auto n = nghttp2_session_mem_recv(h2.get(), s.plain.data(), s.plain.size());
            if (n < 0) throw Unexpected(std::string("HTTP/2 error in the server's frames: ") + nghttp2_strerror(static_cast<int>(n)));
            s.plain.clear();
        }
        if (call.done) break;
        Bytes out;
        const std::uint8_t* data = nullptr;
        ssize_t n;
        while ((n = nghttp2_session_mem_send(h2.get(), &data)) > 0) out.insert(out.end(), data, data + n);
        if (n < 0) throw std::runtime_error(std::string("nghttp2: ") + nghttp2_strerror(static_cast<int>(n)));
        if (!out.empty()) s.send(out);
        if (!nghttp2_session_want_read(h2.get())) throw Unexpected("the server ended the HTTP/2 session before answering");
        if (!s.receive()) throw Unexpected("the server closed the connection before answering " + std::string(path));
    }
    if (call.error_code != 0) throw Unexpected("the server reset the request stream (HTTP/2 error " + std::to_string(call.error_code) + ")");
    return call;
}

json register_request(int version, const std::string& auth_key, const std::string& hostname) {
    return {{"Version", version},
            {"NodeKey", hs::key_text(hs::kNodePrefix, hs::PrivateKey::generate().public_key().bytes)},
            {"Auth", {{"AuthKey", auth_key}}},
            {"Expiry", "0001-01-01T00:00:00Z"},
            {"Followup", ""},
            {"Hostinfo", {{"Hostname", hostname}}}};
}

// Registers a fresh machine and node key; returns the JSON object the server answered with 200.
json do_register(const Url& url, int version, const std::string& auth_key, const std::string& hostname) {
    Session s(url, static_cast<std::uint16_t>(version));
    // On stderr, so stdout stays the server's JSON: a test looks for this key in the server's log.
    std::cerr << "machine key " << s.machine_key << "\n";
    const auto call = post(s, url, "/machine/register", register_request(version, auth_key, hostname).dump());
    const auto body = json::parse(call.response, nullptr, false);
    if (call.status != 200) throw Unexpected("HTTP " + std::to_string(call.status) + " " + json_quoted(call.response) + " instead of 200");
    if (!body.is_object()) throw Unexpected("HTTP 200 with a body that is not a JSON object: " + json_quoted(call.response));
    return body;
}

// ---- probes -----------------------------------------------------------------------------------

std::string probe_not_upgrade(const Url& url) {
    Conn c(url);
    c.write(http_request(url, "POST", "/ts2021", "Connection: close\r\n"));
    const auto head = c.read_head();
    const auto body = c.read_body(head);
    const auto seen = "HTTP " + std::to_string(head.status) + " " + json_quoted(body);
    if (head.status != 400) throw Unexpected(seen + " instead of 400");
    if (body.find("Upgrade") == std::string::npos) throw Unexpected(seen + ": the body does not mention Upgrade");
    return seen;
}

std::string probe_bad_base64(const Url& url) {
    Conn c(url);
    c.write(upgrade_request(url, "this*is!not~base64"));
    const auto head = c.read_head();
    const auto seen = "HTTP " + std::to_string(head.status) + " " + json_quoted(c.read_body(head));
    if (head.status != 400) throw Unexpected(seen + " instead of 400");
    return seen;
}

std::string probe_truncated(const Url& url) {
    Conn c(url);
    upgrade(c, url, base64(random_bytes(50)));
    const auto header = c.read_exact(3, "an error frame");
    if (header[0] != hs::kNoiseTypeError) throw Unexpected("HTTP 101, then a frame of type " + hex_prefix(header.substr(0, 1)) + " instead of an error frame (03)");
    const std::size_t len = static_cast<unsigned char>(header[1]) << 8 | static_cast<unsigned char>(header[2]);
    const auto text = c.read_exact(len, "the end of the error frame");
    if (text != "wrong handshake initiation size")
        throw Unexpected("HTTP 101, then error frame " + json_quoted(text) + " instead of \"wrong handshake initiation size\"");
    const auto extra = c.wait_close();
    if (!extra.empty()) throw Unexpected("HTTP 101, error frame " + json_quoted(text) + ", then more bytes: " + hex_prefix(extra));
    return "HTTP 101, then error frame (type 0x03) " + json_quoted(text) + ", then the server closed the connection";
}

std::string probe_garbage(const Url& url) {
    Bytes init = random_bytes(hs::kNoiseInitSize);
    init[0] = static_cast<std::uint8_t>(kCurrentVersion >> 8);
    init[1] = static_cast<std::uint8_t>(kCurrentVersion);
    init[2] = hs::kNoiseTypeInit;
    init[3] = 0;
    init[4] = 96;
    Conn c(url);
    upgrade(c, url, base64(init));
    Conn::End how = Conn::End::Open;
    const auto extra = c.wait_close(&how);
    if (!extra.empty()) throw Unexpected("HTTP 101, then " + std::to_string(extra.size()) + " bytes (" + hex_prefix(extra) + ") before the close");
    return std::string("HTTP 101, then the server ") + (how == Conn::End::Reset ? "reset" : "closed") +
           " the connection without sending any handshake message";
}

std::string probe_oversized(const Url& url) {
    Session s(url, kCurrentVersion);
    const auto early = s.early.dump();
    Bytes bad = {hs::kNoiseTypeRecord, 0x13, 0x88};  // 5000 bytes: more than any record may hold
    const auto junk = random_bytes(64);
    bad.insert(bad.end(), junk.begin(), junk.end());
    s.conn.write(bad);
    Conn::End how = Conn::End::Open;
    const auto extra = s.conn.wait_close(&how);
    return "handshake ok, early payload " + early + "; after a record header announcing 5000 bytes the server " +
           (how == Conn::End::Reset ? "reset" : "closed") + " the connection" +
           (extra.empty() ? "" : " (after " + std::to_string(extra.size()) + " more bytes)");
}

std::string probe_old_client(const Url& url, int version) {
    const auto body = do_register(url, version, "hskey-auth-x", "old");
    const auto error = body.value("Error", std::string());
    if (error.empty()) throw Unexpected("HTTP 200 without an Error for version " + std::to_string(version) + ": " + body.dump());
    if (error.find("too old") == std::string::npos || error.find(std::to_string(version)) == std::string::npos)
        throw Unexpected("HTTP 200 with Error " + json_quoted(error) + ", which does not say version " + std::to_string(version) + " is too old");
    return "HTTP 200 Error " + json_quoted(error);
}

int parse_version(const std::string& text) {
    int v = -1;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < 0 || v > 0xffff)
        throw std::invalid_argument("VERSION must be a number from 0 to 65535");
    return v;
}

constexpr const char* kUsage =
    "usage: hs-ts2021-probe COMMAND URL [ARG]\n"
    "  not-upgrade URL          POST /ts2021 without Upgrade: expect 400 mentioning Upgrade\n"
    "  bad-base64 URL           a handshake header that is not base64: expect 400\n"
    "  truncated URL            a 50-byte handshake: expect 101, error frame, close\n"
    "  garbage URL              101 random bytes with a valid header: expect 101, close\n"
    "  oversized URL            a transport record header announcing 5000 bytes: expect close\n"
    "  old-client URL VERSION   register with an old capability version: expect a too-old Error\n"
    "  register URL AUTHKEY [HOSTNAME]\n"
    "                           register a fresh node with AUTHKEY (as HOSTNAME, default probe):\n"
    "                           print the JSON answer; the machine key used goes to stderr\n"
    "URL is http://HOST:PORT. Exit 0: as expected; 1: not; 2: usage.\n";

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) {
        std::cout << kUsage;
        return 0;
    }
    if (args.size() < 2) {
        std::cerr << kUsage;
        return 2;
    }
    const auto& cmd = args[0];
    const bool has_arg = cmd == "old-client" || cmd == "register";
    const bool optional_arg = cmd == "register" && args.size() == 4;
    if (args.size() != (has_arg ? 3u : 2u) + (optional_arg ? 1u : 0u)) {
        std::cerr << kUsage;
        return 2;
    }
    if (sodium_init() < 0) {
        std::cerr << "libsodium failed to initialise\n";
        return 1;
    }
    // Each socket operation is bounded; this bounds a server that trickles bytes forever.
    alarm(60);
    Url url;
    int version = 0;
    try {
        url = parse_url(args[1]);
        if (cmd == "old-client") version = parse_version(args[2]);
    } catch (const std::invalid_argument& e) {
        std::cerr << "hs-ts2021-probe: " << e.what() << "\n";
        return 2;
    }
    try {
        std::string line;
        if (cmd == "not-upgrade") line = probe_not_upgrade(url);
        else if (cmd == "bad-base64") line = probe_bad_base64(url);
        else if (cmd == "truncated") line = probe_truncated(url);
        else if (cmd == "garbage") line = probe_garbage(url);
        else if (cmd == "oversized") line = probe_oversized(url);
        else if (cmd == "old-client") line = probe_old_client(url, version);
        else if (cmd == "register") {
            // Only the JSON, so that scripts can pipe it to jq.
            std::cout << do_register(url, kCurrentVersion, args[2], optional_arg ? args[3] : "probe").dump() << "\n";
            return 0;
        } else {
            std::cerr << "hs-ts2021-probe: unknown command " << cmd << "\n" << kUsage;
            return 2;
        }
        std::cout << cmd << ": " << line << "\n";
        return 0;
    } catch (const Unexpected& e) {
        std::cout << cmd << ": UNEXPECTED: " << e.what() << "\n";
    } catch (const std::exception& e) {
        std::cout << cmd << ": ERROR: " << e.what() << "\n";
    }
    return 1;
}
