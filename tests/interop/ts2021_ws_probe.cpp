// hs-ts2021-ws-probe URL: the WebSocket variant of the TS2021 upgrade, as Tailscale's browser
// client opens it. Prints what it saw; exits 0 when the server answered the handshake over
// WebSocket and then spoke HTTP/2 (a SETTINGS frame, no early payload), 1 otherwise.
#include <sodium.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

#include "common/base/keys.h"
#include "common/control/noise.h"
#include "common/net/asio.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

int main(int argc, char** argv) {
    if (argc != 2 || std::string(argv[1]).rfind("http://", 0) != 0) {
        std::fprintf(stderr, "usage: hs-ts2021-ws-probe http://HOST:PORT\n");
        return 2;
    }
    try {
        const std::string rest = std::string(argv[1]).substr(7);
        const auto colon = rest.rfind(':');
        const std::string host = rest.substr(0, colon), port = rest.substr(colon + 1);
        asio::io_context io;
        tcp::resolver resolver(io);
        const auto eps = resolver.resolve(host, port);

        // The server's Noise key from /key, over plain HTTP.
        beast::tcp_stream http_stream(io);
        http_stream.expires_after(std::chrono::seconds(10));
        http_stream.connect(eps);
        http::request<http::empty_body> kreq{http::verb::get, "/key?v=142", 11};
        kreq.set(http::field::host, host);
        http::write(http_stream, kreq);
        beast::flat_buffer kbuf;
        http::response<http::string_body> kres;
        http::read(http_stream, kbuf, kres);
        const auto server_key = hs::PublicKey{
            hs::parse_key_text(nlohmann::json::parse(kres.body())["publicKey"].get<std::string>(), hs::kMachinePrefix)};

        const auto init = hs::noise_initiate(hs::PrivateKey::generate(), server_key, 142);
        std::string b64(sodium_base64_ENCODED_LEN(init.message.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
        sodium_bin2base64(b64.data(), b64.size(), init.message.data(), init.message.size(),
                          sodium_base64_VARIANT_ORIGINAL);
        b64.resize(std::strlen(b64.c_str()));
        std::string escaped;
        for (char c : b64) escaped += c == '+' ? "%2B" : c == '/' ? "%2F" : c == '=' ? "%3D" : std::string(1, c);

        beast::websocket::stream<beast::tcp_stream> ws(io);
        beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(10));
        beast::get_lowest_layer(ws).connect(eps);
        ws.set_option(beast::websocket::stream_base::decorator([](beast::websocket::request_type& r) {
            r.set(http::field::sec_websocket_protocol, "tailscale-control-protocol");
        }));
        beast::websocket::response_type up;
        ws.handshake(up, host + ":" + port, "/ts2021?X-Tailscale-Handshake=" + escaped);
        if (up[http::field::sec_websocket_protocol] != "tailscale-control-protocol") {
            std::printf(
                "websocket: UNEXPECTED: the server did not accept the tailscale-control-protocol subprotocol\n");
            return 1;
        }
        // Message boundaries mean nothing: gather bytes until msg2 and one record are in.
        std::vector<std::uint8_t> in;
        beast::flat_buffer msg;
        while (in.size() < hs::kNoiseResponseSize) {
            ws.read(msg);
            const auto d = msg.data();
            in.insert(in.end(), static_cast<const std::uint8_t*>(d.data()),
                      static_cast<const std::uint8_t*>(d.data()) + d.size());
            msg.consume(msg.size());
        }
        const auto keys = hs::noise_finish(init, {in.data(), hs::kNoiseResponseSize});
        hs::NoiseOpener opener(keys.rx_key);
        std::vector<std::uint8_t> plain;
        opener.feed({in.data() + hs::kNoiseResponseSize, in.size() - hs::kNoiseResponseSize}, plain);
        while (plain.size() < 9) {
            ws.read(msg);
            const auto d = msg.data();
            opener.feed({static_cast<const std::uint8_t*>(d.data()), d.size()}, plain);
            msg.consume(msg.size());
        }
        // An HTTP/2 frame header: 3-byte length, type 0x04 = SETTINGS, on stream 0.
        if (plain[3] != 0x04 || plain[5] != 0 || plain[6] != 0 || plain[7] != 0 || plain[8] != 0) {
            std::printf(
                "websocket: UNEXPECTED: the first bytes after the handshake are not an HTTP/2 SETTINGS frame\n");
            return 1;
        }
        std::printf(
            "websocket: upgrade accepted with subprotocol tailscale-control-protocol, Noise handshake completed, "
            "then an HTTP/2 SETTINGS frame (no early payload)\n");
        return 0;
    } catch (const std::exception& e) {
        std::printf("websocket: UNEXPECTED: %s\n", e.what());
        return 1;
    }
}
