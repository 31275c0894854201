#include "tests/bench/derp/derp_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "common/derp/frame.h"

namespace hs::bench {
namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

int tcp_connect(const std::string& host, int port) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    auto& s4 = reinterpret_cast<sockaddr_in&>(ss);
    auto& s6 = reinterpret_cast<sockaddr_in6&>(ss);
    if (::inet_pton(AF_INET, host.c_str(), &s4.sin_addr) == 1) {
        s4.sin_family = AF_INET;
        s4.sin_port = htons(static_cast<std::uint16_t>(port));
        len = sizeof s4;
    } else if (::inet_pton(AF_INET6, host.c_str(), &s6.sin6_addr) == 1) {
        s6.sin6_family = AF_INET6;
        s6.sin6_port = htons(static_cast<std::uint16_t>(port));
        len = sizeof s6;
    } else {
        fail("\"" + host + "\" is not an IP address");
    }
    const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail(std::string("socket: ") + std::strerror(errno));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        const int e = errno;
        ::close(fd);
        fail("connect to " + host + ":" + std::to_string(port) + ": " + std::strerror(e));
    }
    const int on = 1;
    // Frames go out in large batches already; Nagle would only add delay to the last one.
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    return fd;
}

// Reads until `buf` holds at least `n` bytes.
void read_at_least(SSL* ssl, std::string& buf, std::size_t n, const char* step) {
    char tmp[16384];
    while (buf.size() < n) {
        const int r = SSL_read(ssl, tmp, sizeof tmp);
        if (r <= 0) fail(std::string(step) + ": connection ended (" + ssl_errors() + ")");
        buf.append(tmp, static_cast<std::size_t>(r));
    }
}

void write_all(SSL* ssl, const void* data, std::size_t n, const char* step) {
    if (SSL_write(ssl, data, static_cast<int>(n)) != static_cast<int>(n)) fail(std::string(step) + ": " + ssl_errors());
}

// Takes one whole frame off the front of `buf`, reading more as needed.
derp::Frame read_frame(SSL* ssl, std::string& buf, const char* step) {
    read_at_least(ssl, buf, derp::kHeaderLen, step);
    const auto* h = reinterpret_cast<const std::uint8_t*>(buf.data());
    const std::uint32_t len =
        (std::uint32_t{h[1]} << 24) | (std::uint32_t{h[2]} << 16) | (std::uint32_t{h[3]} << 8) | h[4];
    if (len > derp::kMaxInfoLen) fail(std::string(step) + ": frame of " + std::to_string(len) + " bytes");
    read_at_least(ssl, buf, derp::kHeaderLen + len, step);
    derp::Frame f{derp::Bytes(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(derp::kHeaderLen + len))};
    buf.erase(0, derp::kHeaderLen + len);
    return f;
}

}  // namespace

std::string ssl_errors() {
    std::string out;
    while (const unsigned long e = ERR_get_error()) {
        char b[256];
        ERR_error_string_n(e, b, sizeof b);
        if (!out.empty()) out += "; ";
        out += b;
    }
    return out.empty() ? std::string("no TLS error; peer closed") : out;
}

DerpConn::DerpConn(DerpConn&& o) noexcept
    : fd(std::exchange(o.fd, -1)), ssl(std::exchange(o.ssl, nullptr)), key(o.key), public_key(o.public_key),
      leftover(std::move(o.leftover)) {}

DerpConn& DerpConn::operator=(DerpConn&& o) noexcept {
    // The old descriptors go to `o`, whose destructor releases them.
    std::swap(fd, o.fd);
    std::swap(ssl, o.ssl);
    key = o.key;
    public_key = o.public_key;
    leftover.swap(o.leftover);
    return *this;
}

DerpConn::~DerpConn() {
    if (ssl) SSL_free(ssl);
    if (fd >= 0) ::close(fd);
}

SSL_CTX* make_client_ctx() {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) fail("SSL_CTX_new: " + ssl_errors());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    // Read whatever the socket holds, not a record header and then its body in two syscalls.
    SSL_CTX_set_read_ahead(ctx, 1);
    return ctx;
}

DerpConn derp_connect(SSL_CTX* ctx, const std::string& host, int port, const std::string& sni) {
    DerpConn c;
    c.fd = tcp_connect(host, port);
    c.ssl = SSL_new(ctx);
    if (!c.ssl) fail("SSL_new: " + ssl_errors());
    SSL_set_fd(c.ssl, c.fd);
    if (!sni.empty()) SSL_set_tlsext_host_name(c.ssl, sni.c_str());
    if (SSL_connect(c.ssl) != 1) fail("TLS handshake with " + host + ":" + std::to_string(port) + ": " + ssl_errors());

    const std::string req = "GET /derp HTTP/1.1\r\nHost: " + (sni.empty() ? host : sni) +
                            "\r\nUpgrade: DERP\r\nConnection: Upgrade\r\nUser-Agent: hs-bench-derp\r\n\r\n";
    write_all(c.ssl, req.data(), req.size(), "upgrade request");
    std::string buf;
    std::size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        if (buf.size() > 16384) fail("upgrade: response headers too long");
        read_at_least(c.ssl, buf, buf.size() + 1, "upgrade response");
    }
    if (buf.compare(0, 12, "HTTP/1.1 101") != 0) fail("upgrade refused: " + buf.substr(0, buf.find("\r\n")));
    buf.erase(0, end + 4);

    const derp::Frame sk = read_frame(c.ssl, buf, "ServerKey");
    if (sk.type() != derp::FrameType::ServerKey) fail("first frame is not ServerKey");
    const PublicKey server = derp::parse_server_key(sk.payload());
    c.key = PrivateKey::generate();
    c.public_key = c.key.public_key();
    derp::ClientInfo info;
    info.version = derp::kProtocolVersion;
    const derp::Bytes ci = derp::encode_client_info(c.key, server, info);
    write_all(c.ssl, ci.data(), ci.size(), "ClientInfo");
    // A server may send notices first; ServerInfo is the one that matters.
    for (;;) {
        const derp::Frame f = read_frame(c.ssl, buf, "ServerInfo");
        if (f.type() != derp::FrameType::ServerInfo) continue;
        derp::open_server_info(f.payload(), c.key, server);
        break;
    }
    c.leftover = std::move(buf);
    return c;
}

}  // namespace hs::bench
