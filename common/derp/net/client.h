// The client end of DERP over TLS: dial a server, do the HTTP upgrade the way tailscaled's slow
// path does it, then the ServerKey/ClientInfo/ServerInfo handshake, then frames. hs-derper's
// mesh links use it to watch the other derpers of their region, and test probes use it to
// speak (and misspeak) the protocol to a server.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/net/asio.h"

#include <boost/asio/ssl.hpp>

#include "common/derp/net/conn.h"

namespace hs::derp {

namespace ssl = net::ssl;

// Where a DERP server is: the name its certificate is for (also the Host header and SNI), the
// port, and optionally a different address to connect to. Written like derper's -mesh-with
// entries: "host", "host:port", "[v6]:port", each optionally followed by "/dialhost".
struct DialTarget {
    std::string host;
    std::uint16_t port = 443;
    std::string dial_host;  // empty: connect to host

    std::string text() const;  // as it was written, for logs
};
// Throws std::invalid_argument naming what is wrong.
DialTarget parse_dial_target(std::string_view text);

// A client TLS context that checks certificates against the system's CA roots (OpenSSL's
// default paths, so SSL_CERT_FILE and SSL_CERT_DIR apply), or checks nothing when `insecure`.
ssl::context client_tls_context(bool insecure = false);

class ClientConn {
public:
    // Connects, does TLS (verifying the certificate for target.host unless the context is
    // insecure) and the HTTP upgrade. Throws std::runtime_error naming the step that failed.
    static net::awaitable<std::unique_ptr<ClientConn>> dial(net::any_io_executor ex, ssl::context& tls,
                                                            const DialTarget& target);

    // Reads ServerKey, sends ClientInfo sealed with `me`, reads ServerInfo. Throws FrameError
    // or the stream's error.
    net::awaitable<ServerInfo> handshake(const PrivateKey& me, const ClientInfo& info);
    // Just the first step of handshake(), for callers that want to send their own ClientInfo.
    net::awaitable<PublicKey> read_server_key();

    // The next whole frame (up to kMaxInfoLen), or the stream's error.
    net::awaitable<Frame> read_frame();
    net::awaitable<void> write(ByteView bytes);
    // Ends the connection at once; pending reads and writes fail. Safe to call from the
    // connection's executor only.
    void close() { stream_->close(); }

    const PublicKey& server_key() const { return server_key_; }
    net::any_io_executor get_executor() { return stream_->get_executor(); }

private:
    ClientConn(std::shared_ptr<ByteStream> s, std::string preread);

    std::shared_ptr<ByteStream> stream_;
    FrameDecoder dec_{kMaxInfoLen};
    PublicKey server_key_;
};

}  // namespace hs::derp
