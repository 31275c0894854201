// hs-admin --remote: runs an operation on hs-control's REST API instead of the local file.
// The operation's route comes from the same table the server dispatches on, so the two cannot
// drift apart; the server returns the operation's JSON, which prints exactly as a local result.
#include <cstdlib>
#include <stdexcept>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/admin_ops.h"
#include "common/asio.h"
#include "tools/hs-admin/context.h"

namespace hs::admin {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

constexpr auto kTimeout = std::chrono::seconds(30);

struct RemoteError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string escape(const std::string& s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':') {
            out.push_back(static_cast<char>(c));
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

// A parameter as URL text: strings as they are, lists joined with commas.
std::string param_text(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    if (v.is_array()) {
        std::string out;
        for (const auto& e : v) out += (out.empty() ? "" : ",") + param_text(e);
        return out;
    }
    return v.dump();
}

bool empty_param(const json& v) { return v.is_null() || (v.is_string() && v.get_ref<const std::string&>().empty()) || v == false; }

struct Target {
    bool tls = false;
    std::string host, port, base;  // base: path prefix of the URL, without a trailing '/'
};

Target parse_target(const std::string& url) {
    Target t;
    std::string rest;
    if (url.rfind("https://", 0) == 0) {
        t.tls = true;
        rest = url.substr(8);
    } else if (url.rfind("http://", 0) == 0) {
        rest = url.substr(7);
    } else {
        throw RemoteError("--remote " + url + ": expected an http:// or https:// URL");
    }
    const auto slash = rest.find('/');
    const auto authority = rest.substr(0, slash);
    t.base = slash == std::string::npos ? "" : rest.substr(slash);
    while (!t.base.empty() && t.base.back() == '/') t.base.pop_back();
    const auto close = authority.find(']');
    const auto colon = authority.rfind(':');
    if (!authority.empty() && authority[0] == '[' && close != std::string::npos) {
        t.host = authority.substr(1, close - 1);
        if (colon != std::string::npos && colon > close) t.port = authority.substr(colon + 1);
    } else {
        t.host = authority.substr(0, colon);
        if (colon != std::string::npos) t.port = authority.substr(colon + 1);
    }
    if (t.host.empty()) throw RemoteError("--remote " + url + ": no host");
    if (t.port.empty()) t.port = t.tls ? "443" : "80";
    return t;
}

// Runs the pending asynchronous work for at most what is left of the deadline.
void run(asio::io_context& io, std::chrono::steady_clock::time_point deadline, const std::string& what,
         const beast::error_code& ec) {
    io.restart();
    io.run_until(deadline);
    if (!io.stopped()) throw RemoteError(what + ": timed out");
    if (ec) throw RemoteError(what + ": " + ec.message());
}

template <class Stream>
http::response<http::string_body> exchange(asio::io_context& io, Stream& s, http::request<http::string_body>& req,
                                           std::chrono::steady_clock::time_point deadline, const std::string& url) {
    beast::error_code ec;
    http::async_write(s, req, [&](beast::error_code e, std::size_t) { ec = e; });
    run(io, deadline, url, ec);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    http::async_read(s, buf, parser, [&](beast::error_code e, std::size_t) { ec = e; });
    run(io, deadline, url, ec);
    return parser.release();
}

}  // namespace

json remote_call(const std::string& url, const std::string& api_key, const std::string& op_name, const json& params) {
    const auto* op = find_op(op_name);
    if (!op) throw std::logic_error("unknown operation " + op_name);
    if (api_key.empty()) throw RemoteError("--remote needs an API key: --api-key KEY or $HS_API_KEY (create one with hs-admin apikeys create)");
    const auto t = parse_target(url);

    // Path parameters fill the {x} segments; the rest go in the query (GET, DELETE) or body.
    std::string path = op->path;
    json rest = json::object();
    for (const auto& [k, v] : params.items()) {
        const auto slot = "{" + k + "}";
        if (const auto at = path.find(slot); at != std::string::npos) path.replace(at, slot.size(), escape(param_text(v)));
        else rest[k] = v;
    }
    const bool in_query = op->method == "GET" || op->method == "DELETE";
    std::string query;
    if (in_query)
        for (const auto& [k, v] : rest.items())
            if (!empty_param(v)) query += (query.empty() ? "?" : "&") + k + "=" + escape(param_text(v));

    http::request<http::string_body> req{http::string_to_verb(op->method), t.base + path + query, 11};
    req.set(http::field::host, t.host);
    req.set(http::field::user_agent, "hs-admin/" HS_VERSION);
    req.set(http::field::accept, "application/json");
    req.set(http::field::authorization, "Bearer " + api_key);
    if (!in_query) {
        req.set(http::field::content_type, "application/json");
        req.body() = rest.dump();
    }
    req.prepare_payload();

    const auto deadline = std::chrono::steady_clock::now() + kTimeout;
    asio::io_context io;
    beast::error_code ec;
    asio::ip::tcp::resolver resolver(io);
    asio::ip::tcp::resolver::results_type found;
    resolver.async_resolve(t.host, t.port, [&](beast::error_code e, asio::ip::tcp::resolver::results_type r) {
        ec = e;
        found = std::move(r);
    });
    run(io, deadline, url, ec);
    beast::tcp_stream tcp(io);
    tcp.async_connect(found, [&](beast::error_code e, const asio::ip::tcp::endpoint&) { ec = e; });
    run(io, deadline, url, ec);

    http::response<http::string_body> res;
    if (!t.tls) {
        res = exchange(io, tcp, req, deadline, url);
    } else {
        asio::ssl::context tls_ctx(asio::ssl::context::tls_client);
        tls_ctx.set_default_verify_paths();
        tls_ctx.set_verify_mode(asio::ssl::verify_peer);
        beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp), tls_ctx);
        if (!SSL_set_tlsext_host_name(tls.native_handle(), t.host.c_str())) throw RemoteError(url + ": cannot set TLS server name");
        tls.set_verify_callback(asio::ssl::host_name_verification(t.host));
        tls.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
        run(io, deadline, url, ec);
        res = exchange(io, tls, req, deadline, url);
    }

    const auto body = json::parse(res.body(), nullptr, false);
    if (res.result_int() == 200 && !body.is_discarded()) return body;
    if (body.is_object() && body.contains("error") && body["error"].is_string()) throw RemoteError(body["error"].get<std::string>());
    throw RemoteError(url + ": HTTP status " + std::to_string(res.result_int()));
}

}  // namespace hs::admin
