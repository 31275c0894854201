// hs-control's network edge: the HTTP/1 listener (pages, /key, the /ts2021 upgrade), the
// metrics listener, and the periodic tick that syncs with the database and drives keepalives.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/net/asio.h"

#include <boost/asio/ssl.hpp>

#include "common/base/keys.h"
#include "common/base/log.h"
#include "common/config/config.h"
#include "common/net/forwarded.h"
#include "common/net/http_text.h"
#include "common/store/db.h"
#include "tools/hs-control/conn_deadline.h"
#include "tools/hs-control/login_guard.h"
#include "tools/hs-control/source_limits.h"
#include "tools/hs-control/tailnet.h"

namespace hs::control {

class NoiseConn;
class EmbeddedDerp;
class AcmeTls;
class OidcLogin;
class LocalLogin;

class Server {
public:
    // `derp` is null unless derp.server.enabled.
    Server(boost::asio::io_context& io, const Config& cfg, Db& db, Tailnet& tailnet, PrivateKey noise_key,
           EmbeddedDerp* derp);
    ~Server();

    // Binds the listeners (throws with the address on failure) without serving yet: done before
    // anything changes the database, so an instance that cannot serve changes nothing.
    void listen();
    // Binds (unless listen() did) and starts serving.
    void start();
    void stop();

    // Sign-in through an identity provider for /register/<id> and /oidc/callback; null or
    // disabled: the page names the hs-admin command instead.
    void set_oidc(OidcLogin* oidc) { oidc_ = oidc; }
    // Sign-in with a built-in account on /register/<id> (auth.local); null or disabled: none.
    void set_local_login(LocalLogin* local) { local_ = local; }
    Tailnet& tailnet() { return tailnet_; }
    const PrivateKey& noise_key() const { return noise_key_; }
    void add_conn(const std::shared_ptr<NoiseConn>& c);
    void count_handshake_failure() { ++handshake_failures_; }
    DeadlineCloses& deadline_closes() { return deadline_closes_; }
    std::string metrics_text() const;
    // More /metrics text from a part that lives outside the server (the event notifier);
    // `text` is called on the event loop.
    void add_metrics_text(std::function<std::string()> text) { extra_metrics_.push_back(std::move(text)); }
    // Why the server stopped itself ("" when it did not): no ACME certificate could be had.
    const std::string& fatal_error() const { return fatal_error_; }

    // What an unauthenticated peer was stopped from holding.
    enum class Refusal { StreamBytes, ConnectionBytes, UnauthenticatedPerSource };
    void count_refusal(Refusal r) { ++refusals_[static_cast<int>(r)]; }
    // A request answered with an error because its handler failed (bad types, database).
    void count_request_failure(int status) { ++request_failures_[status]; }
    LogLimiter& log_limit() { return log_limit_; }
    // Upgraded connections that have not yet shown a node of the tailnet.
    const std::shared_ptr<SourceLimits>& unauthenticated() { return unauthenticated_; }

    // What a listener serves: everything, /metrics only, /derp only (the embedded DERP's TLS
    // port when server_url is plain http), or the REST API only (api_listen_addr).
    enum class Role { Main, Metrics, DerpOnly, Api };
    LoginGuard& login_guard() { return *guard_; }

private:
    boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& acc, Role role,
                                             boost::asio::ssl::context* tls);
    boost::asio::awaitable<void> serve_conn(boost::asio::ip::tcp::socket sock, Role role,
                                            boost::asio::ssl::context* tls);
    template <class Stream>
    boost::asio::awaitable<void> serve_http(Stream stream, Role role, boost::asio::ip::tcp::endpoint remote);
    boost::asio::awaitable<void> accept_unix_loop();
    // The answer to a request for the REST API or a sign-in page (/register/, /oidc/), or
    // nullopt for any other path. Refuses addresses outside auth.allowed_cidrs (403) and
    // sources the limiter throttles (429).
    template <class Request>
    boost::asio::awaitable<std::optional<TextResponse>> serve_signin(const Request& req, const std::string& path,
                                                                     const std::string& target, const std::string& peer,
                                                                     Role role);
    boost::asio::awaitable<void> tick_loop();
    void tick(TimePoint now, int n);
    std::string health_json(int& status);

    boost::asio::io_context& io_;
    const Config& cfg_;
    Db& db_;
    Tailnet& tailnet_;
    PrivateKey noise_key_;
    EmbeddedDerp* derp_;
    OidcLogin* oidc_ = nullptr;
    LocalLogin* local_ = nullptr;
    std::string noise_public_text_;
    std::unique_ptr<boost::asio::ip::tcp::acceptor> main_acc_, metrics_acc_, derp_acc_, api_acc_;
    std::unique_ptr<boost::asio::local::stream_protocol::acceptor> api_unix_;
    std::unique_ptr<boost::asio::ssl::context> tls_, derp_tls_;
    std::unique_ptr<AcmeTls> acme_;  // tls_letsencrypt_hostname
    std::string fatal_error_;
    std::vector<std::weak_ptr<NoiseConn>> conns_;
    std::uint64_t handshake_failures_ = 0;
    std::uint64_t http_requests_ = 0;
    std::uint64_t http_refused_ = 0;  // malformed or oversized HTTP/1 requests
    std::uint64_t refusals_[3] = {};
    std::map<int, std::uint64_t> request_failures_;
    std::shared_ptr<SourceLimits> unauthenticated_;
    TrustedProxies trusted_proxies_;
    TrustedProxies allowed_;  // auth.allowed_cidrs (a set of prefixes, as trusted_proxies is)
    std::unique_ptr<LoginGuard> guard_;
    LogLimiter log_limit_;
    std::vector<std::function<std::string()>> extra_metrics_;
    DeadlineCloses deadline_closes_;
    bool stopping_ = false;
};

}  // namespace hs::control
