// The scrape endpoint hs-stun uses: /metrics answers with the body function's text, other
// paths 404, and bad addresses are refused with a message naming them.
#include <catch2/catch.hpp>

#include <chrono>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/net/metrics_http.h"

namespace http = boost::beast::http;

namespace {

http::response<http::string_body> get(const std::string& hostport, const std::string& target) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    const auto colon = hostport.rfind(':');
    s.connect({boost::asio::ip::make_address(hostport.substr(0, colon)),
               static_cast<unsigned short>(std::stoi(hostport.substr(colon + 1)))});
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, hostport);
    http::write(s, req);
    boost::beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    return res;
}

}  // namespace

TEST_CASE("metrics endpoint: /metrics serves the body, other paths 404") {
    int scrapes = 0;
    hs::MetricsEndpoint m("127.0.0.1:0", [&scrapes] { return "demo_total " + std::to_string(++scrapes) + "\n"; });
    const auto at = m.local_address();
    REQUIRE(at.rfind("127.0.0.1:", 0) == 0);
    auto r = get(at, "/metrics");
    CHECK(r.result() == http::status::ok);
    CHECK(r.body() == "demo_total 1\n");
    CHECK(std::string(r[http::field::content_type]) == "text/plain; version=0.0.4");
    CHECK(get(at, "/metrics?x=1").body() == "demo_total 2\n");
    CHECK(get(at, "/").result() == http::status::not_found);
    CHECK(scrapes == 2);
}

TEST_CASE("metrics endpoint: a client that never sends its request is dropped after 5 s") {
    const auto t0 = std::chrono::steady_clock::now();
    {
        hs::MetricsEndpoint m("127.0.0.1:0", [] { return std::string("up 1\n"); });
        const auto at = m.local_address();
        boost::asio::io_context io;
        boost::asio::ip::tcp::socket silent(io);
        const auto colon = at.rfind(':');
        silent.connect({boost::asio::ip::make_address(at.substr(0, colon)),
                        static_cast<unsigned short>(std::stoi(at.substr(colon + 1)))});
        // The next scrape waits for the silent one's time limit, then is answered.
        CHECK(get(at, "/metrics").body() == "up 1\n");
        CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(8));
    }
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(9));
}

TEST_CASE("metrics endpoint: malformed or unusable addresses are refused by name") {
    CHECK_THROWS_WITH(hs::MetricsEndpoint("nonsense", [] { return std::string(); }), Catch::Contains("nonsense"));
    CHECK_THROWS_WITH(hs::MetricsEndpoint("example.com:9", [] { return std::string(); }),
                      Catch::Contains("not an IP address"));
    hs::MetricsEndpoint first("127.0.0.1:0", [] { return std::string(); });
    CHECK_THROWS_WITH(hs::MetricsEndpoint(first.local_address(), [] { return std::string(); }),
                      Catch::Contains("cannot listen on"));
}
