#include "common/acme/net/client.h"

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/net/http_fetch.h"

namespace hs::acme {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::use_awaitable;

constexpr std::size_t kMaxBody = 1 << 20;  // a certificate chain is a few KiB

template <class Stream>
asio::awaitable<HttpResponse> roundtrip(Stream& stream, const HttpRequest& r, const HttpUrl& u) {
    http::request<http::string_body> req{http::string_to_verb(r.method), u.target, 11};
    // RFC 9110 §7.2: the port too when it is not the scheme's (Pebble builds its URLs from this).
    const bool v6 = u.host.find(':') != std::string::npos;
    const std::string host = v6 ? "[" + u.host + "]" : u.host;
    req.set(http::field::host, u.port == (u.tls ? "443" : "80") ? host : host + ":" + u.port);
    req.set(http::field::user_agent, "hs-acme");
    if (r.method == "POST") {
        req.set(http::field::content_type, "application/jose+json");  // RFC 8555 §6.2
        req.body() = r.body;
    }
    req.prepare_payload();
    co_await http::async_write(stream, req, use_awaitable);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    if (r.method == "HEAD") parser.skip(true);
    co_await http::async_read(stream, buf, parser, use_awaitable);
    auto res = parser.release();
    co_return HttpResponse{static_cast<int>(res.result_int()), std::string(res[http::field::location]),
                           std::string(res["Replay-Nonce"]), std::string(res[http::field::retry_after]),
                           std::move(res.body())};
}

}  // namespace

asio::awaitable<HttpResponse> exchange(HttpRequest r, std::chrono::seconds timeout) {
    try {
        const HttpUrl u = parse_http_url(r.url);
        auto ex = co_await asio::this_coro::executor;
        asio::ip::tcp::resolver resolver(ex);
        beast::tcp_stream tcp(ex);
        tcp.expires_after(timeout);
        const auto endpoints = co_await resolver.async_resolve(u.host, u.port, use_awaitable);
        co_await tcp.async_connect(endpoints, use_awaitable);
        if (!u.tls) co_return co_await roundtrip(tcp, r, u);
        asio::ssl::context ctx(asio::ssl::context::tls_client);
        ctx.set_default_verify_paths();
        ctx.set_verify_mode(asio::ssl::verify_peer);
        beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp), ctx);
        if (!SSL_set_tlsext_host_name(tls.native_handle(), u.host.c_str()))
            throw AcmeError("cannot set the TLS server name");
        tls.set_verify_callback(asio::ssl::host_name_verification(u.host));
        co_await tls.async_handshake(asio::ssl::stream_base::client, use_awaitable);
        co_return co_await roundtrip(tls, r, u);
    } catch (const boost::system::system_error& e) {
        const std::string why = e.code() == beast::error::timeout
                                    ? "timed out after " + std::to_string(timeout.count()) + "s"
                                    : e.code().message();
        throw AcmeError("cannot reach the ACME server at " + r.url + ": " + why);
    } catch (const FetchError& e) {
        throw AcmeError(std::string("ACME URL ") + e.what());
    }
}

}  // namespace hs::acme
