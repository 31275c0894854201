#include "tools/hs-control/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "common/base/netaddr.h"
#include "common/base/prometheus.h"
#include "common/base/url.h"
#include "common/derp/net/conn.h"
#include "common/net/accept_loop.h"
#include "common/net/forwarded.h"
#include "common/net/http_text.h"
#include "common/net/listen.h"
#include "common/net/tls.h"
#include "common/store/store.h"
#include "tools/hs-control/acme_tls.h"
#include "tools/hs-control/api.h"
#include "tools/hs-control/derp_verify.h"
#include "tools/hs-control/embedded_derp.h"
#include "tools/hs-control/local_login.h"
#include "tools/hs-control/noise_conn.h"
#include "tools/hs-control/oidc_login.h"
#include "tools/hs-control/pages.h"
#include "tools/hs-control/ts2021_upgrade.h"

namespace hs::control {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

using Response = TextResponse;

Response make(unsigned status, std::string body, const char* type) {
    auto r = text_response(static_cast<http::status>(status), std::move(body), 11, type);
    r.set(http::field::server, "hs-control");
    return r;
}

// `setting` names the config key in errors.
std::unique_ptr<tcp::acceptor> bind(asio::io_context& io, const std::string& addr, const char* setting) {
    return std::make_unique<tcp::acceptor>(listen_tcp(io.get_executor(), parse_listen_addr(addr, setting), setting));
}

// A client whose host vanished (power loss, a deleted network namespace) never closes its map
// stream; without probes the kernel would keep it for ~15 minutes and the node would stay online,
// holding its primary routes. Keepalive probes after 15 s idle and a 30 s limit on unacknowledged
// data end such a connection within about 30 s.
// Clients behind one NAT share an address, but each proves itself with its first request; only
// the seconds between upgrade and that request count. 64 per address always; more while fewer
// than 1,024 are waiting in all, so an office of hundreds of devices reconnecting after a
// restart is not refused (with 64 alone, 2,000 devices behind one address took 55.7 s instead
// of 1.8 s to reconnect in the bench storm, retrying with backoff). A flood from one address
// holds at most those 1,024, each bounded to 256 KiB of request bytes (noise_conn.cpp), and leaves every other
// address its 64.
constexpr int kMaxUnauthenticatedPerSource = 64;
constexpr int kMaxUnauthenticated = 4096;
constexpr int kUnauthenticatedBurst = 1024;

// The "ip:port" a request is handled, limited and logged for: the connection's peer, or behind
// a trusted proxy the client it names, with port 0 (a proxy does not pass the client's port).
// Every other listener and peer ignores X-Forwarded-For and X-Real-IP.
template <class Body>
std::string request_peer(const TrustedProxies& proxies, const http::request<Body>& req, const tcp::endpoint& remote,
                         const std::string& peer) {
    if (proxies.empty()) return peer;
    std::string xff;
    for (auto [it, end] = req.equal_range("X-Forwarded-For"); it != end; ++it)
        xff.append(xff.empty() ? "" : ",").append(it->value().data(), it->value().size());
    const auto real = req["X-Real-IP"];
    const auto ip = proxies.client_ip(remote.address().to_string(), xff, {real.data(), real.size()});
    // The peer's format ("ip:port", IPv6 unbracketed), which source_of() reads.
    return ip == remote.address().to_string() ? peer : ip + ":0";
}

bool is_api_path(const std::string& path) {
    return path.rfind("/api/v1/", 0) == 0 || path.rfind("/api/hs/v1/", 0) == 0;
}

// api_listen_addr's unix:/path. A socket file left by an earlier run is replaced; the socket is
// 0660, so its group decides who besides the owner may use the API.
std::unique_ptr<asio::local::stream_protocol::acceptor> bind_unix(asio::io_context& io, const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
    auto acc = std::make_unique<asio::local::stream_protocol::acceptor>(io);
    boost::system::error_code ec;
    acc->open(asio::local::stream_protocol(), ec);
    if (!ec) acc->bind(asio::local::stream_protocol::endpoint(path), ec);
    if (!ec) ::chmod(path.c_str(), 0660);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error("api_listen_addr: cannot listen on unix:" + path + ": " + ec.message());
    return acc;
}

void detect_dead_peers(tcp::socket& sock) {
    const int fd = sock.native_handle();
    const int on = 1, idle = 15, interval = 5, count = 3;
    const unsigned user_timeout_ms = 30000;
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
    ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
}

}  // namespace

Server::Server(asio::io_context& io, const Config& cfg, Db& db, Tailnet& tailnet, PrivateKey noise_key,
               EmbeddedDerp* derp)
    : io_(io), cfg_(cfg), db_(db), tailnet_(tailnet), noise_key_(noise_key), derp_(derp),
      noise_public_text_(key_text(kMachinePrefix, noise_key.public_key().bytes)),
      unauthenticated_(
          std::make_shared<SourceLimits>(kMaxUnauthenticatedPerSource, kMaxUnauthenticated, kUnauthenticatedBurst)),
      trusted_proxies_(cfg.trusted_proxies), allowed_(cfg.auth_allowed_cidrs),
      guard_(std::make_unique<LoginGuard>(db, throttle_config(cfg.limits))) {
    tailnet_.set_login_guard(guard_.get());
}

Server::~Server() = default;

void Server::listen() {
    if (main_acc_) return;
    if (!cfg_.tls_cert_path.empty())
        tls_ = std::make_unique<asio::ssl::context>(tls_from_files(cfg_.tls_cert_path, cfg_.tls_key_path));
    if (!cfg_.tls_letsencrypt_hostname.empty()) acme_ = std::make_unique<AcmeTls>(io_, cfg_);
    main_acc_ = bind(io_, cfg_.listen_addr, "listen_addr");
    if (!cfg_.metrics_listen_addr.empty()) metrics_acc_ = bind(io_, cfg_.metrics_listen_addr, "metrics_listen_addr");
    if (derp_ && derp_->tls_context()) derp_acc_ = bind(io_, cfg_.derp.tls_listen_addr, "derp.server.tls_listen_addr");
    if (cfg_.api_listen_addr.rfind("unix:", 0) == 0) api_unix_ = bind_unix(io_, cfg_.api_listen_addr.substr(5));
    else if (!cfg_.api_listen_addr.empty()) api_acc_ = bind(io_, cfg_.api_listen_addr, "api_listen_addr");
}

void Server::start() {
    listen();
    asio::co_spawn(io_, accept_loop(*main_acc_, Role::Main, acme_ ? &acme_->context() : tls_.get()), asio::detached);
    // Without a certificate there is no HTTPS to serve, and plain HTTP is never the fallback.
    if (acme_)
        acme_->start([this](const std::string& why) {
            fatal_error_ = why;
            stop();
            io_.stop();
        });
    if (metrics_acc_) asio::co_spawn(io_, accept_loop(*metrics_acc_, Role::Metrics, nullptr), asio::detached);
    if (derp_acc_) asio::co_spawn(io_, accept_loop(*derp_acc_, Role::DerpOnly, derp_->tls_context()), asio::detached);
    if (api_acc_) asio::co_spawn(io_, accept_loop(*api_acc_, Role::Api, nullptr), asio::detached);
    if (api_unix_) asio::co_spawn(io_, accept_unix_loop(), asio::detached);
    asio::co_spawn(io_, tick_loop(), asio::detached);
    spdlog::info("hs-control listening on {} (server_url {}){}{}", cfg_.listen_addr, cfg_.server_url,
                 cfg_.metrics_listen_addr.empty() ? "" : ", metrics on " + cfg_.metrics_listen_addr,
                 cfg_.api_listen_addr.empty() ? "" : ", REST API on " + cfg_.api_listen_addr);
}

void Server::stop() {
    stopping_ = true;
    tailnet_.set_stopping();
    boost::system::error_code ec;
    if (main_acc_) main_acc_->close(ec);
    if (metrics_acc_) metrics_acc_->close(ec);
    if (derp_acc_) derp_acc_->close(ec);
    if (api_acc_) api_acc_->close(ec);
    if (api_unix_) api_unix_->close(ec);
    if (acme_) acme_->stop();
    for (auto& w : conns_)
        if (auto c = w.lock()) c->close();
}

void Server::add_conn(const std::shared_ptr<NoiseConn>& c) { conns_.push_back(c); }

asio::awaitable<void> Server::accept_loop(tcp::acceptor& acc, Role role, asio::ssl::context* tls) {
    boost::system::error_code ec;
    const auto local = acc.local_endpoint(ec);
    const char* what = role == Role::Main      ? ""
                       : role == Role::Metrics ? "metrics "
                       : role == Role::Api     ? "REST API "
                                               : "DERP TLS ";
    // Named, not temporaries: GCC 12 destroys temporary arguments of a co_awaited coroutine
    // call twice (a double free at shutdown).
    const AcceptOptions opts{.name = what + host_port_text(local.address().to_string(), local.port())};
    const std::function<void(tcp::socket)> serve = [this, role, tls](tcp::socket sock) {
        if (stopping_) return;
        detect_dead_peers(sock);
        asio::co_spawn(io_, serve_conn(std::move(sock), role, tls), asio::detached);
    };
    co_await accept_connections(acc, opts, serve);
}

asio::awaitable<void> Server::serve_conn(tcp::socket sock, Role role, asio::ssl::context* tls) {
    boost::system::error_code ec;
    const auto remote = sock.remote_endpoint(ec);
    if (!tls) {
        co_await serve_http(beast::tcp_stream(std::move(sock)), role, remote);
        co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(sock)), *tls);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    co_await stream.async_handshake(asio::ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        spdlog::debug("TLS handshake from {}: {}", remote.address().to_string(), ec.message());
        co_return;
    }
    if (acme::LiveTls::is_validation(stream.native_handle())) co_return;  // the CA only checks the certificate
    co_await serve_http(std::move(stream), role, remote);
}

asio::awaitable<void> Server::accept_unix_loop() {
    while (!stopping_) {
        boost::system::error_code ec;
        auto sock = co_await api_unix_->async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted || !api_unix_->is_open()) co_return;
        if (ec) {
            spdlog::warn("REST API socket {}: accept: {}", cfg_.api_listen_addr, ec.message());
            continue;
        }
        // A socket's peer has no address: it stands for this host, and the file's mode decides who.
        asio::co_spawn(io_,
                       serve_http(beast::basic_stream<asio::local::stream_protocol>(std::move(sock)), Role::Api, {}),
                       asio::detached);
    }
}

asio::awaitable<void> Server::tick_loop() {
    asio::steady_timer t(io_);
    int n = 0;
    while (!stopping_) {
        t.expires_after(std::chrono::milliseconds(250));
        boost::system::error_code ec;
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        tick(Clock::now(), ++n);
    }
}

void Server::tick(TimePoint now, int n) {
    // Each step fails on its own: a locked or full file must not stop presence, keepalives or
    // held logins, which need no write to go on.
    auto step = [&](const char* what, auto&& f) {
        try {
            f();
        } catch (const DbError& e) {
            tailnet_.note_db_failure(now, e);
            if (log_limit_.allow(what)) spdlog::error("{}: {}", what, e.what());
        } catch (const std::exception& e) {
            if (log_limit_.allow(what)) spdlog::error("{}: {}", what, e.what());
        }
    };
    if (db_.lock_lost() && fatal_error_.empty()) {
        // Another instance holds our slot now: carrying on would write under its bit.
        fatal_error_ = "lost this instance's slot on " + db_.path() + " while reconnecting; exiting to start afresh";
        stop();
        io_.stop();
        return;
    }
    step("reading the change log", [&] { tailnet_.sync_from_db(now); });
    step("sending and recording changes", [&] { tailnet_.flush(now); });
    step("retrying writes", [&] { tailnet_.retry_unsaved(now); });
    if (derp_ && n % 4 == 0) step("DERP admission", [&] { derp_->enforce_admission(); });
    if (n % 4 == 0) step("instance duties", [&] { tailnet_.instance_duties(now); });
    if (n % 40 == 0) {
        step("collecting ephemeral nodes", [&] { tailnet_.collect_ephemeral(now); });
        step("pruning the change log", [&] { store::prune_change_log(db_, now - std::chrono::minutes(10)); });
        step("pruning logins", [&] { store::prune_auth_requests(db_, now); });
    }
    std::erase_if(conns_, [](const auto& w) { return w.expired(); });
    for (auto& w : std::vector(conns_))
        if (auto c = w.lock()) c->tick(now);
}

std::string Server::health_json(int& status) {
    // Reads never wait for another process's write lock (WAL), so this answers at once.
    try {
        store::probe_readable(db_);
    } catch (const std::exception& e) {
        status = 503;
        return nlohmann::json{{"status", "fail"}, {"error", std::string("database unreadable: ") + e.what()}}.dump();
    }
    status = 200;
    if (const auto problem = tailnet_.db_write_problem(Clock::now()))
        return nlohmann::json{{"status", "warn"}, {"error", *problem}}.dump();
    return R"({"status":"pass"})";
}

template <class Request>
asio::awaitable<std::optional<TextResponse>> Server::serve_signin(const Request& req, const std::string& path,
                                                                  const std::string& target, const std::string& peer,
                                                                  Role role) {
    const bool api = is_api_path(path);
    const bool page = path.rfind("/register/", 0) == 0 || path.rfind("/oidc/", 0) == 0;
    if (!api && !page) co_return std::nullopt;
    // With api_listen_addr the clients' port serves no API: scanning it finds nothing.
    if (api && role != Role::Api && (api_acc_ || api_unix_)) co_return make(404, "not found\n", "text/plain");
    const auto ip = peer_ip(peer);
    if (!allowed_.empty() && ip != "unix" && !allowed_.trusts(ip)) {
        if (log_limit_.allow("auth.allowed_cidrs"))
            spdlog::info("refused {} from {}: not in auth.allowed_cidrs", path, ip);
        co_return make(403, "forbidden: sign-in and the API are not open to your address\n", "text/plain");
    }
    const auto now = Clock::now();
    if (api) {
        // Admin operations run synchronously on the loop: short SQLite transactions.
        const auto r = handle_api(db_, cfg_, std::string(req.method_string()), target,
                                  std::string(req[http::field::authorization]), req.body(), now, peer, guard_.get());
        auto res = make(r.status, r.body, r.content_type.c_str());
        if (r.retry_after > 0) res.set(http::field::retry_after, std::to_string(r.retry_after));
        if (req.method() != http::verb::get) tailnet_.note_own_write();  // clients hear of it on the tick
        co_return res;
    }
    if (const auto wait = guard_->throttled(LoginGuard::Kind::RegistrationId, peer, now)) {
        auto res = make(429, "too many failed attempts from your address; try again later\n", "text/plain");
        res.set(http::field::retry_after, std::to_string(wait->count()));
        co_return res;
    }
    const bool oidc = oidc_ && oidc_->enabled();
    if (path == "/oidc/callback" && oidc) {
        const std::string cookies(req[http::field::cookie]);  // named: see accept_loop on GCC 12
        const auto reply = co_await oidc_->finish(target, cookies);
        co_return oidc_http_response(reply);
    }
    if (path.rfind("/register/confirm/", 0) == 0 && oidc) {
        // Named: see accept_loop on GCC 12.
        const std::string method(req.method_string()), id = path.substr(18), cookies(req[http::field::cookie]);
        const auto reply = co_await oidc_->confirm(method, id, req.body(), cookies, peer);
        co_return oidc_http_response(reply);
    }
    if (path.rfind("/register/", 0) != 0) co_return make(404, "not found\n", "text/plain");
    // A registration ID is a secret of sorts: guessing one costs the source like a wrong key.
    const auto id = path.substr(10);
    std::optional<AuthRequest> ar;
    if (!id.empty() && id.size() < 64) ar = store::find_auth_request(db_, id);
    if (!ar) guard_->failed(LoginGuard::Kind::RegistrationId, peer, "", "unknown registration id", now);
    // Built-in accounts' form, unless OIDC is on too and the person chose it (?oidc=1).
    if (local_ && local_->enabled() && !(oidc && query_value(target_query(target), "oidc"))) {
        const std::string cookies(req[http::field::cookie]);  // named: see accept_loop on GCC 12
        OidcReply reply;
        if (req.method() == http::verb::post) reply = co_await local_->submit(id, req.body(), cookies, peer);
        else reply = local_->form(id, cookies, oidc, now);
        co_return oidc_http_response(reply);
    }
    if (oidc) co_return oidc_http_response(oidc_->begin(id, now));
    co_return make(ar ? 200 : 404, register_page(id, ar), "text/html; charset=utf-8");
}

template <class Stream>
asio::awaitable<void> Server::serve_http(Stream stream, Role role, tcp::endpoint remote) {
    boost::system::error_code ec;
    // A unix socket's peer is "unix" (source_of and peer_ip read "unix:0" as that).
    constexpr bool unix_peer = std::is_same_v<Stream, beast::basic_stream<asio::local::stream_protocol>>;
    const std::string conn_peer =
        unix_peer ? "unix:0" : remote.address().to_string() + ":" + std::to_string(remote.port());
    beast::flat_buffer buf;
    const bool metrics = role == Role::Metrics;
    for (;;) {
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
        http::request_parser<http::string_body> parser;
        parser.body_limit(64 * 1024);
        co_await http::async_read(stream, buf, parser, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            // A request that cannot be parsed is answered before the close, so the sender learns why.
            if (ec.category() == http::make_error_code(http::error::body_limit).category() &&
                ec != http::error::end_of_stream && ec != http::error::partial_message) {
                ++http_refused_;
                const bool big = ec == http::error::body_limit || ec == http::error::header_limit;
                auto refusal =
                    make(big ? 413 : 400,
                         big ? "request too large\n" : "malformed HTTP request: " + ec.message() + "\n", "text/plain");
                refusal.keep_alive(false);
                beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
                co_await http::async_write(stream, refusal, asio::redirect_error(asio::use_awaitable, ec));
            }
            co_return;
        }
        auto req = parser.release();
        ++http_requests_;
        const std::string peer =
            metrics || unix_peer ? conn_peer : request_peer(trusted_proxies_, req, remote, conn_peer);
        const std::string target(req.target());
        const std::string path(target_path(target));
        Response res;
        if (metrics) {
            res = path == "/metrics" ? make(200, metrics_text(), "text/plain; version=0.0.4")
                                     : make(404, "not found\n", "text/plain");
        } else if (role == Role::DerpOnly && !derp::is_derp_path(path)) {
            res = make(404, "this port serves only DERP\n", "text/plain");
        } else if (role == Role::Api && !is_api_path(path)) {
            res = make(404, "this address serves only the REST API (/api/v1/, /api/hs/v1/)\n", "text/plain");
        } else if (auto signin = co_await serve_signin(req, path, target, peer, role)) {
            res = std::move(*signin);
        } else if (derp_ && derp::is_derp_path(path)) {
            co_await derp_->serve(std::move(stream), buf, std::move(req), remote, peer);
            co_return;
        } else if (path == "/ts2021") {
            auto up = check_ts2021(req);
            if (up.status == 0 && !unauthenticated_->admit(source_of(peer)))
                up = {{},
                      false,
                      429,
                      "too many connections from your address that have not logged in; try again later\n"};
            if (up.status == 0) {
                co_await accept_ts2021(*this, std::move(stream), buf, std::move(req), std::move(up), peer);
                co_return;
            }
            res = make(up.status, std::move(up.error), "text/plain");
            if (res.result_int() == 429) count_refusal(Refusal::UnauthenticatedPerSource);
            if (log_limit_.allow("ts2021 refused"))
                spdlog::info("rejected /ts2021 request from {}: {}", peer, res.body().substr(0, res.body().size() - 1));
        } else if (path == "/verify") {
            const auto now = Clock::now();
            const auto v = derp_verify(std::string(req.method_string()), req.body(),
                                       [&](const std::string& k) { return tailnet_.admits_node_key(k, now); });
            res = make(static_cast<unsigned>(v.status), v.body, v.status == 200 ? "application/json" : "text/plain");
        } else if (path == "/key") {
            res = make(200, key_json(noise_public_text_), "application/json");
        } else if (path == "/health") {
            int status = 200;
            auto body = health_json(status);
            res = make(static_cast<unsigned>(status), std::move(body), "application/json");
        } else if (path == "/apple") {
            res = make(200, apple_page(cfg_.server_url), "text/html; charset=utf-8");
        } else if (path == "/windows") {
            res = make(200, windows_page(cfg_.server_url), "text/html; charset=utf-8");
        } else if (path == "/") {
            res = make(200,
                       "hs-control: a Tailscale control server. Point clients at it with tailscale up --login-server " +
                           cfg_.server_url + "\n",
                       "text/plain");
        } else {
            res = make(404, "not found\n", "text/plain");
        }
        res.keep_alive(req.keep_alive());
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        if (ec || !req.keep_alive()) co_return;
    }
}

std::string Server::metrics_text() const {
    const auto& s = tailnet_.stats();
    prometheus::Writer w;
    w.gauge("hs_control_nodes", "Nodes in the tailnet.", tailnet_.node_count());
    w.gauge("hs_control_connected_clients", "Nodes with an open map stream.", tailnet_.online_count());
    w.gauge("hs_control_instance_slot", "This instance's slot among those on one database (0 on SQLite).",
            tailnet_.instance_slot());
    w.family("hs_control_duty", "gauge", "1 while this instance does the duty for every instance on the database.");
    w.sample("hs_control_duty", tailnet_.elects_routes() ? 1 : 0, {{"duty", "routes"}});
    w.sample("hs_control_duty", tailnet_.collects_ephemeral() ? 1 : 0, {{"duty", "ephemeral"}});
    w.family("hs_control_registrations_total", "counter", "Registration requests by outcome.");
    w.sample("hs_control_registrations_total", s.registrations_ok, {{"outcome", "ok"}});
    w.sample("hs_control_registrations_total", s.registrations_rejected, {{"outcome", "rejected"}});
    w.sample("hs_control_registrations_total", s.registrations_pending, {{"outcome", "pending"}});
    w.counter("hs_control_map_messages_total", "Map messages sent to clients.", s.map_messages);
    w.counter("hs_control_map_bytes_total", "Bytes of map messages sent (compressed).", s.map_bytes);
    w.counter("hs_control_map_build_seconds_total", "Time spent computing full maps.", s.map_build_seconds);
    w.counter("hs_control_map_builds_total", "Full maps computed.", s.map_builds);
    w.counter("hs_control_handshake_failures_total", "Failed TS2021 handshakes.", handshake_failures_);
    w.counter("hs_control_api_auth_failures_total", "REST API requests refused for their API key.",
              api_auth_failures());
    w.counter("hs_control_http_requests_total", "HTTP/1 requests served.", http_requests_);
    w.counter("hs_control_http_refused_total", "Malformed or oversized HTTP/1 requests refused.", http_refused_);
    w.family("hs_control_ts2021_refused_total", "counter", "What unauthenticated peers were stopped from holding.");
    const char* reasons[] = {"stream_bytes", "connection_bytes", "unauthenticated_per_source"};
    for (int i = 0; i < 3; ++i) w.sample("hs_control_ts2021_refused_total", refusals_[i], {{"reason", reasons[i]}});
    w.family("hs_control_request_failures_total", "counter",
             "Requests answered with an error because their handler failed.");
    for (const auto& [code, count] : request_failures_)
        w.sample("hs_control_request_failures_total", count, {{"code", std::to_string(code)}});
    w.counter("hs_control_db_write_failures_total", "Database writes that failed (busy, full, read-only).",
              tailnet_.db_write_failures());
    w.counter("hs_control_policy_reload_errors_total",
              "ACL policies refused on reload or recompile; the last good policy stayed in force.",
              tailnet_.policy_reload_errors());
    w.gauge("hs_control_policy_in_force", "1 while an ACL policy is enforced, 0 when every node may reach every other.",
            tailnet_.has_policy() ? 1 : 0);
    std::string o = w.take();
    o += deadline_closes_.prometheus_text();
    if (derp_) o += derp_->metrics_text();
    if (acme_) o += acme_->metrics_text();
    o += guard_->metrics_text(Clock::now());
    for (const auto& text : extra_metrics_) o += text();
    return o;
}

}  // namespace hs::control
