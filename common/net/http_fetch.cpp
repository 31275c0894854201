#include "common/net/http_fetch.h"

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/net/asio.h"

namespace hs {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// What one exchange sends: a method, an optional JSON body and Authorization header.
struct Request {
    http::verb method = http::verb::get;
    const std::string* body = nullptr;
    std::string authorization;
    const char* content_type = "application/json";
    const std::vector<std::pair<std::string, std::string>>* headers = nullptr;
};

template <class Stream>
HttpResponse exchange(Stream& stream, const HttpUrl& u, const std::string& url, const Request& r, std::size_t max_bytes,
                      asio::io_context& io, std::chrono::milliseconds timeout) {
    http::request<http::string_body> req{r.method, u.target, 11};
    // RFC 9110 §7.2: the port too when it is not the scheme's default (servers that build
    // URLs from Host, as OpenID providers do for their metadata, need it).
    const bool default_port = u.port == (u.tls ? "443" : "80");
    const auto host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
    req.set(http::field::host, default_port ? host : host + ":" + u.port);
    req.set(http::field::user_agent, "hs");
    req.set(http::field::accept, "application/json");
    if (!r.authorization.empty()) req.set(http::field::authorization, r.authorization);
    if (r.headers)
        for (const auto& [name, value] : *r.headers) req.set(name, value);
    if (r.body) {
        req.set(http::field::content_type, r.content_type);
        req.body() = *r.body;
        req.prepare_payload();
    }
    beast::error_code ec;
    http::async_write(stream, req, [&](beast::error_code e, std::size_t) { ec = e; });
    io.run_for(timeout);
    if (!io.stopped()) throw FetchError(url + ": timed out sending the request");
    if (ec) throw FetchError(url + ": " + ec.message());
    io.restart();
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_bytes);
    http::async_read(stream, buf, parser, [&](beast::error_code e, std::size_t) { ec = e; });
    io.run_for(timeout);
    if (!io.stopped()) throw FetchError(url + ": timed out waiting for the response");
    if (ec == http::error::body_limit)
        throw FetchError(url + ": response larger than " + std::to_string(max_bytes) + " bytes");
    if (ec) throw FetchError(url + ": " + ec.message());
    auto res = parser.release();
    return HttpResponse{static_cast<int>(res.result_int()), std::move(res.body())};
}

HttpResponse request(const std::string& url, const Request& what, std::chrono::milliseconds timeout,
                     std::size_t max_bytes) {
    const auto u = parse_http_url(url);
    asio::io_context io;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto left = [&] {
        const auto l =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (l.count() <= 0) throw FetchError(url + ": timed out");
        return l;
    };
    asio::ip::tcp::resolver resolver(io);
    beast::error_code ec;
    asio::ip::tcp::resolver::results_type results;
    resolver.async_resolve(u.host, u.port, [&](beast::error_code e, asio::ip::tcp::resolver::results_type r) {
        ec = e;
        results = std::move(r);
    });
    io.run_for(left());
    if (!io.stopped()) throw FetchError(url + ": timed out resolving " + u.host);
    if (ec) throw FetchError(url + ": cannot resolve " + u.host + ": " + ec.message());
    io.restart();
    beast::tcp_stream tcp(io);
    tcp.async_connect(results, [&](beast::error_code e, const asio::ip::tcp::endpoint&) { ec = e; });
    io.run_for(left());
    if (!io.stopped()) throw FetchError(url + ": timed out connecting");
    if (ec) throw FetchError(url + ": cannot connect: " + ec.message());
    io.restart();
    if (!u.tls) return exchange(tcp, u, url, what, max_bytes, io, left());

    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.set_default_verify_paths();
    ctx.set_verify_mode(asio::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp), ctx);
    if (!SSL_set_tlsext_host_name(tls.native_handle(), u.host.c_str()))
        throw FetchError(url + ": cannot set TLS server name");
    tls.set_verify_callback(asio::ssl::host_name_verification(u.host));
    tls.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    io.run_for(left());
    if (!io.stopped()) throw FetchError(url + ": timed out in the TLS handshake");
    if (ec) throw FetchError(url + ": TLS: " + ec.message());
    io.restart();
    return exchange(tls, u, url, what, max_bytes, io, left());
}

}  // namespace

HttpUrl parse_http_url(const std::string& url) {
    HttpUrl u;
    std::string rest;
    if (url.rfind("https://", 0) == 0) {
        u.tls = true;
        rest = url.substr(8);
    } else if (url.rfind("http://", 0) == 0) {
        rest = url.substr(7);
    } else {
        throw FetchError(url + ": only http:// and https:// URLs can be fetched");
    }
    const auto slash = rest.find('/');
    const std::string authority = rest.substr(0, slash);
    u.target = slash == std::string::npos ? "/" : rest.substr(slash);
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string::npos) throw FetchError(url + ": malformed host");
        u.host = authority.substr(1, close - 1);
        u.port = close + 2 <= authority.size() && authority[close + 1] == ':' ? authority.substr(close + 2) : "";
    } else {
        const auto colon = authority.rfind(':');
        u.host = authority.substr(0, colon);
        u.port = colon == std::string::npos ? "" : authority.substr(colon + 1);
    }
    if (u.host.empty()) throw FetchError(url + ": no host");
    if (u.port.empty()) u.port = u.tls ? "443" : "80";
    return u;
}

std::string http_get(const std::string& url, std::chrono::milliseconds timeout, std::size_t max_bytes) {
    auto res = request(url, Request{}, timeout, max_bytes);
    if (res.status != 200) throw FetchError(url + ": HTTP status " + std::to_string(res.status));
    return std::move(res.body);
}

HttpResponse http_post(const std::string& url, const std::string& body, std::chrono::milliseconds timeout,
                       std::size_t max_bytes) {
    return request(url, Request{http::verb::post, &body, ""}, timeout, max_bytes);
}

HttpResponse http_request(const std::string& method, const std::string& url, const std::string* body,
                          const std::string& authorization, std::chrono::milliseconds timeout, std::size_t max_bytes) {
    const auto verb = http::string_to_verb(method);
    if (verb == http::verb::unknown) throw FetchError(url + ": unknown HTTP method " + method);
    return request(url, Request{verb, body, authorization}, timeout, max_bytes);
}

HttpResponse http_post_with_headers(const std::string& url, const std::string& body,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    std::chrono::milliseconds timeout, std::size_t max_bytes) {
    return request(url, Request{http::verb::post, &body, "", "application/json", &headers}, timeout, max_bytes);
}

HttpResponse http_post_form(const std::string& url, const std::string& form, const std::string& authorization,
                            std::chrono::milliseconds timeout, std::size_t max_bytes) {
    return request(url, Request{http::verb::post, &form, authorization, "application/x-www-form-urlencoded"}, timeout,
                   max_bytes);
}

}  // namespace hs
