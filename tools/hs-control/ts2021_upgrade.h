// The /ts2021 upgrade that starts every Noise connection, the way derp/net/conn.h's
// accept_derp starts a DERP one: check_ts2021 reads the request (no I/O), accept_ts2021 takes
// the connection over. Clients speak it two ways: native ones with "Upgrade:
// tailscale-control-protocol" and the handshake in a header; browsers (JS/WASM) over a
// WebSocket with the handshake in the query string and Noise bytes in binary messages.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include "common/net/asio.h"

#include "common/derp/net/conn.h"
#include "tools/hs-control/noise_conn.h"
#include "tools/hs-control/server.h"
#include "tools/hs-control/source_limits.h"

namespace hs::control {

// What check_ts2021 found: the Noise initiation to answer, or why the request is refused.
struct Ts2021Request {
    std::vector<std::uint8_t> init;  // the decoded X-Tailscale-Handshake
    bool websocket = false;
    unsigned status = 0;  // 0: acceptable; else the refusal's HTTP status with `error` as body
    std::string error;
};

Ts2021Request check_ts2021(const boost::beast::http::request<boost::beast::http::string_body>& req);

// Takes over a connection whose request check_ts2021 accepted and whose source the server's
// unauthenticated limit admitted (released here if the upgrade fails): writes the 101 or
// completes the WebSocket handshake, then runs the NoiseConn. `buf` holds what the HTTP reader
// read past the request.
template <class Stream>
boost::asio::awaitable<void> accept_ts2021(Server& server, Stream stream, boost::beast::flat_buffer& buf,
                                           boost::beast::http::request<boost::beast::http::string_body> req,
                                           Ts2021Request up, std::string peer) {
    namespace beast = boost::beast;
    namespace http = beast::http;
    namespace asio = boost::asio;
    boost::system::error_code ec;
    // The HTTP timeouts would cut a long-lived control connection.
    beast::get_lowest_layer(stream).expires_never();
    std::shared_ptr<derp::ByteStream> bytes;
    std::string leftover;
    if (up.websocket) {
        beast::websocket::stream<Stream> ws(std::move(stream));
        ws.set_option(beast::websocket::stream_base::decorator([](beast::websocket::response_type& r) {
            r.set(http::field::sec_websocket_protocol, "tailscale-control-protocol");
        }));
        ws.binary(true);
        co_await ws.async_accept(req, asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) bytes = std::make_shared<derp::WebSocketByteStream<Stream>>(std::move(ws));
    } else {
        http::response<http::string_body> res{http::status::switching_protocols, 11};
        res.set(http::field::upgrade, "tailscale-control-protocol");
        res.set(http::field::connection, "upgrade");
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        const auto left = buf.data();
        leftover.assign(static_cast<const char*>(left.data()), left.size());
        if (!ec) bytes = std::make_shared<derp::AsioByteStream<Stream>>(std::move(stream));
    }
    if (ec) {
        server.unauthenticated()->release(source_of(peer));
        co_return;
    }
    // No early payload over WebSocket: the JS client does not read one.
    auto conn = std::make_shared<NoiseConn>(server, std::move(bytes), std::move(peer), !up.websocket);
    co_await conn->run(std::move(up.init), std::move(leftover));
}

}  // namespace hs::control
