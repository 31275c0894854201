#include "tools/hs-control/ts2021_upgrade.h"

#include <sodium.h>

#include "common/base/url.h"

namespace hs::control {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

// A Noise initiation is 101 bytes; 256 leaves room without accepting arbitrary sizes.
constexpr std::size_t kMaxInit = 256;

// Standard base64 (with padding), as Go's base64.StdEncoding writes it; false when `text` is
// empty, malformed or too long.
bool decode_handshake(std::string_view text, std::vector<std::uint8_t>& out) {
    out.resize(kMaxInit);
    std::size_t len = 0;
    if (text.empty() || sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, nullptr,
                                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return false;
    out.resize(len);
    return true;
}

Ts2021Request refuse(unsigned status, std::string why) {
    Ts2021Request r;
    r.status = status;
    r.error = std::move(why);
    return r;
}

}  // namespace

Ts2021Request check_ts2021(const http::request<http::string_body>& req) {
    const auto upgrade = req[http::field::upgrade];
    Ts2021Request r;
    // Clients always send it; a reverse proxy that is not set up for upgrades drops it (nginx
    // passes it only with proxy_set_header Upgrade / Connection), so the answer names that.
    if (upgrade.empty())
        return refuse(400,
                      "no Upgrade header on /ts2021: a reverse proxy in front of hs-control probably dropped it; "
                      "it must pass the Upgrade and Connection headers (see examples/nginx)\n");
    if (beast::iequals(upgrade, "websocket")) {
        r.websocket = true;
        const std::string_view target(req.target().data(), req.target().size());
        const auto hs64 = query_value(target_query(target), "X-Tailscale-Handshake").value_or("");
        if (req[http::field::sec_websocket_protocol].find("tailscale-control-protocol") == beast::string_view::npos)
            return refuse(400, "WebSocket upgrade without the tailscale-control-protocol subprotocol\n");
        if (!decode_handshake(hs64, r.init)) return refuse(400, "missing or invalid X-Tailscale-Handshake parameter\n");
        return r;
    }
    if (!beast::iequals(upgrade, "tailscale-control-protocol")) return refuse(400, "unknown Upgrade protocol\n");
    const auto hs64 = req["X-Tailscale-Handshake"];
    if (!decode_handshake({hs64.data(), hs64.size()}, r.init))
        return refuse(400, "missing or invalid X-Tailscale-Handshake header\n");
    return r;
}

}  // namespace hs::control
