#include "common/acme/net/http01.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/net/accept_loop.h"
#include "common/net/http_text.h"
#include "common/net/listen.h"

namespace hs::acme {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
constexpr std::string_view kPrefix = "/.well-known/acme-challenge/";

asio::awaitable<void> serve(asio::ip::tcp::socket sock, const Http01Responder& r) {
    beast::tcp_stream stream(std::move(sock));
    beast::flat_buffer buf;
    boost::system::error_code ec;
    for (;;) {
        stream.expires_after(std::chrono::seconds(10));
        http::request_parser<http::empty_body> parser;
        co_await http::async_read(stream, buf, parser, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        const auto req = parser.release();
        const auto a = r.answer(std::string(req.target()));
        auto res = text_response(static_cast<http::status>(a.status), a.body, req.version(),
                                 a.status == 200 ? "application/octet-stream" : "text/plain; charset=utf-8");
        if (!a.location.empty()) res.set(http::field::location, a.location);
        res.keep_alive(req.keep_alive());
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        if (ec || !req.keep_alive()) co_return;
    }
}

}  // namespace

void Http01Responder::publish(const std::string& token, const std::string& key_authorization) {
    std::lock_guard lk(mu_);
    tokens_[token] = key_authorization;
}

void Http01Responder::clear() {
    std::lock_guard lk(mu_);
    tokens_.clear();
}

Http01Responder::Answer Http01Responder::answer(const std::string& target) const {
    if (target.rfind(kPrefix, 0) == 0) {
        std::lock_guard lk(mu_);
        const auto it = tokens_.find(target.substr(kPrefix.size()));
        if (it != tokens_.end()) return {200, it->second, ""};
        return {404, "no such ACME challenge\n", ""};
    }
    if (redirect_base_.empty() || target.empty() || target[0] != '/') return {404, "not found\n", ""};
    return {308, "this site is served over HTTPS\n", redirect_base_ + target};
}

void Http01Responder::listen(const asio::any_io_executor& ex, const std::string& listen, const std::string& setting) {
    acc_ = std::make_unique<asio::ip::tcp::acceptor>(listen_tcp(ex, parse_listen_addr(listen, setting), setting));
}

void Http01Responder::start() {
    if (!acc_) return;
    boost::system::error_code ec;
    const auto local = acc_->local_endpoint(ec);
    const AcceptOptions opts{.name = "ACME HTTP-01 " + local.address().to_string() + ":" + std::to_string(local.port()),
                             .strand_per_connection = true};
    const std::function<void(asio::ip::tcp::socket)> on_accept = [this](asio::ip::tcp::socket sock) {
        const auto ex = sock.get_executor();
        asio::co_spawn(ex, serve(std::move(sock), *this), asio::detached);
    };
    asio::co_spawn(acc_->get_executor(), accept_connections(*acc_, opts, on_accept), asio::detached);
}

void Http01Responder::stop() {
    boost::system::error_code ec;
    if (acc_) acc_->close(ec);
}

}  // namespace hs::acme
