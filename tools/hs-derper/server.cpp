// hs-derper's wiring: keys, certificates, listeners (DERP over HTTP(S), STUN, metrics), the
// client-verification poller, and the worker threads.
#include <sched.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <thread>

#include <boost/asio/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "common/base/cli.h"
#include "common/base/duration.h"
#include "common/base/files.h"
#include "common/base/key_file.h"
#include "common/base/log.h"
#include "common/base/netaddr.h"
#include "common/base/prometheus.h"
#include "common/base/url.h"
#include "common/derp/net/conn.h"
#include "common/derp/net/mesh.h"
#include "common/derp/net/webhook.h"
#include "common/net/accept_loop.h"
#include "common/net/http_text.h"
#include "common/net/listen.h"
#include "common/net/tls.h"
#include "common/stun/net/udp.h"
#include "tools/hs-derper/acme.h"
#include "tools/hs-derper/bootstrap_dns.h"
#include "tools/hs-derper/options.h"
#include "tools/hs-derper/verify.h"

namespace hs::derper {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

struct Ctx {
    derp::DerpServer& derp;
    ssl::context* tls = nullptr;  // null: plain HTTP
    derp::ConnOptions conn;
    stun::Counters& stun;
    const NodeKeySet* keys = nullptr;
    const derp::Mesh* mesh = nullptr;
    const BootstrapDns* bootstrap_dns = nullptr;
    const acme::CertManager* acme = nullptr;
    std::atomic<std::uint64_t> fast_starts{0};  // upgrades that skipped the 101 (meta certificate)
};

std::string endpoint_text(const tcp::endpoint& ep) { return host_port_text(ep.address().to_string(), ep.port()); }

std::string_view path_of(beast::string_view target) { return target_path({target.data(), target.size()}); }

// Answers `req` in its HTTP version, keeping the connection as it asked.
TextResponse reply(const http::request<http::string_body>& req, http::status status, std::string body,
                   const char* type = "text/plain; charset=utf-8") {
    auto res = text_response(status, std::move(body), req.version(), type);
    res.keep_alive(req.keep_alive());
    return res;
}

http::response<http::string_body> respond(const http::request<http::string_body>& req, Ctx& ctx, bool metrics) {
    const auto path = path_of(req.target());
    if (metrics) {
        if (path != "/metrics" && path != "/debug/varz") return reply(req, http::status::not_found, "not found\n");
        std::string body = derp::prometheus_text(ctx.derp.stats()) + ctx.stun.prometheus_text();
        if (ctx.keys) {
            prometheus::Writer w;
            w.gauge("derp_verify_node_keys", "Node keys loaded for client verification.", ctx.keys->size());
            body += w.take();
        }
        body += derp::fast_start_metric(ctx.fast_starts.load());
        if (ctx.mesh) body += ctx.mesh->prometheus_text();
        if (ctx.acme) body += ctx.acme->metrics_text();
        return reply(req, http::status::ok, std::move(body), "text/plain; version=0.0.4");
    }
    if (derp::is_derp_path(std::string(req.target()))) {
        auto res = derp::derp_http_response(req);
        res.keep_alive(req.keep_alive());
        return res;
    }
    if (path == "/bootstrap-dns" && ctx.bootstrap_dns) {
        const std::string_view t(req.target().data(), req.target().size());
        auto res = reply(req, http::status::ok, ctx.bootstrap_dns->answer(target_query(t)), "application/json");
        res.keep_alive(false);  // derper closes after answering
        return res;
    }
    if (path == "/") return reply(req, http::status::ok, "hs-derper: a DERP relay. Clients connect to /derp.\n");
    if (path == "/robots.txt") return reply(req, http::status::ok, "User-agent: *\nDisallow: /\n");
    return reply(req, http::status::not_found, "not found\n");
}

template <class Stream>
net::awaitable<void> http_session(Stream stream, tcp::endpoint remote, Ctx& ctx, bool metrics) {
    beast::flat_buffer buffer;
    for (;;) {
        http::request<http::string_body> req;
        beast::get_lowest_layer(stream).expires_after(30s);
        co_await http::async_read(stream, buffer, req, net::use_awaitable);
        if (!metrics && path_of(req.target()) == "/derp" && derp::upgrade_kind(req) != derp::Upgrade::None) {
            if (req["Derp-Fast-Start"] == "1") ctx.fast_starts += 1;
            const auto meta = derp::conn_meta(remote, req);
            co_await derp::accept_derp(std::move(stream), buffer, std::move(req), ctx.derp, meta, endpoint_text(remote),
                                       ctx.conn);
            co_return;
        }
        auto res = respond(req, ctx, metrics);
        co_await http::async_write(stream, res, net::use_awaitable);
        if (!res.keep_alive()) break;
    }
    beast::error_code ec;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ec);
}

net::awaitable<void> session(tcp::socket sock, Ctx& ctx, bool metrics) {
    tcp::endpoint remote;
    try {
        remote = sock.remote_endpoint();
        sock.set_option(tcp::no_delay(true));
        sock.set_option(net::socket_base::keep_alive(true));
        beast::tcp_stream ts(std::move(sock));
        if (ctx.tls && !metrics) {
            ssl::stream<beast::tcp_stream> s(std::move(ts), *ctx.tls);
            beast::get_lowest_layer(s).expires_after(30s);
            co_await s.async_handshake(ssl::stream_base::server, net::use_awaitable);
            if (acme::LiveTls::is_validation(s.native_handle())) co_return;  // the CA only checks the certificate
            co_await http_session(std::move(s), remote, ctx, false);
        } else {
            co_await http_session(std::move(ts), remote, ctx, metrics);
        }
    } catch (const std::exception& e) {
        spdlog::trace("http: {} ended: {}", endpoint_text(remote), e.what());
    }
}

net::awaitable<void> accept_loop(tcp::acceptor& acc, Ctx& ctx, bool metrics) {
    // A strand per connection: its reader, writer and timers never run at once. The arguments
    // are named, not temporaries: GCC 12 destroys temporary arguments of a co_awaited
    // coroutine call twice.
    const AcceptOptions opts{.name = (metrics ? "metrics " : "") + endpoint_text(acc.local_endpoint()),
                             .strand_per_connection = true};
    const std::function<void(tcp::socket)> serve = [&ctx, metrics](tcp::socket sock) {
        const auto ex = sock.get_executor();
        net::co_spawn(ex, session(std::move(sock), ctx, metrics), net::detached);
    };
    co_await accept_connections(acc, opts, serve);
}

// Re-reads the admitted keys when the database changes and closes connections whose key left.
void verify_poller(std::stop_token stop, NodeKeySet& keys, derp::DerpServer& derp) {
    bool failing = false;
    std::size_t last_size = keys.size();
    while (!stop.stop_requested()) {
        std::this_thread::sleep_for(250ms);
        try {
            if (keys.reload_if_changed()) {
                const auto closed = derp.close_where_not([&](const PublicKey& k) { return keys.admits(k); });
                // hs-control writes often (last seen, online); only changes to the key set are news.
                const auto level = closed || keys.size() != last_size ? spdlog::level::info : spdlog::level::debug;
                last_size = keys.size();
                spdlog::log(level, "verify-clients: {} node keys loaded{}", keys.size(),
                            closed ? ", closing " + std::to_string(closed) + " connections no longer admitted" : "");
            }
            if (failing) spdlog::info("verify-clients: {} can be read again", keys.name());
            failing = false;
        } catch (const std::exception& e) {
            // Once per outage: a PostgreSQL that is down fails every poll. The keys read last
            // keep deciding, so nobody is admitted who was not before.
            if (!failing)
                spdlog::warn("verify-clients: cannot re-read the node keys ({}); keeping the {} read before", e.what(),
                             keys.size());
            failing = true;
        }
    }
}

// --db as a SQLite path or a PostgreSQL connection string (db_target.h has the rule).
DbTarget db_target(const Options& o) {
    try {
        return parse_db_target(o.db_path, "hs-derper");
    } catch (const DbError& e) {
        throw std::runtime_error(std::string("--db: ") + e.what());
    }
}

// Refuses option combinations that cannot work before any file or socket is touched.
derp::ConnOptions check_options(const Options& o) {
    if (o.verify_clients && o.db_path.empty())
        throw std::runtime_error("--verify-clients needs --db PATH or --db POSTGRES-CONNINFO");
    if (o.verify_clients) db_target(o);
    if (!o.verify_client_url.empty() && o.verify_client_url.rfind("http://", 0) != 0 &&
        o.verify_client_url.rfind("https://", 0) != 0)
        throw std::runtime_error("--verify-client-url: expected an http:// or https:// URL, got \"" +
                                 o.verify_client_url + "\"");
    if (!o.mesh_with.empty() && o.mesh_psk_file.empty()) throw std::runtime_error("--mesh-with needs --mesh-psk-file");
    parse_listen_addr(o.addr, "--addr");
    check_acme_options(o);
    if (o.stun && (o.stun_port < 0 || o.stun_port > 65535)) throw std::runtime_error("--stun-port: out of range");
    derp::ConnOptions conn;
    try {
        conn.write_timeout = parse_duration(o.tcp_write_timeout);
    } catch (const DurationError& e) {
        throw std::runtime_error(std::string("--tcp-write-timeout: ") + e.what());
    }
    return conn;
}

// The certificate: self-signed, from --certdir, or none with --http.
std::optional<ssl::context> make_tls(const Options& o) {
    std::optional<ssl::context> tls;
    if (o.plain_http || o.certmode == "letsencrypt") return tls;
    if (o.hostname.empty()) throw std::runtime_error("--hostname is required for TLS (or use --http)");
    if (o.self_signed) {
        std::string fp;
        tls.emplace(tls_self_signed(o.hostname, fp));
        spdlog::info("self-signed certificate for {}; DERPNode CertName \"sha256-raw:{}\" pins it", o.hostname, fp);
    } else {
        const auto crt = cert_path(o.certdir, o.hostname, ".crt"), key = cert_path(o.certdir, o.hostname, ".key");
        if (!std::filesystem::exists(crt))
            throw std::runtime_error(crt + ": no certificate (use --certdir, --self-signed or --http)");
        tls.emplace(tls_from_files(crt, key));
    }
    return tls;
}

// One thread per CPU this process may run on (taskset, cpusets), not per CPU the machine
// has: extra threads on one CPU only add strand locking and hand-offs (about 6% of the
// relay's packets per CPU second when pinned to one CPU in tests/bench/derp_bench.sh).
unsigned worker_threads() {
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    const unsigned allowed =
        sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? static_cast<unsigned>(CPU_COUNT(&cpus)) : 0;
    return std::max(1u, allowed ? allowed : std::thread::hardware_concurrency());
}

// DERP over HTTP(S) on --addr, STUN on --addr's host at --stun-port, metrics on --metrics-addr.
struct Listeners {
    tcp::acceptor derp;
    std::optional<net::ip::udp::socket> stun;
    std::optional<tcp::acceptor> metrics;
};

// Binds every listener and starts serving on each.
Listeners start_listeners(net::io_context& io, const Options& o, Ctx& ctx) {
    const auto addr = parse_listen_addr(o.addr, "--addr");
    Listeners l{listen_tcp(io.get_executor(), addr, "--addr"), {}, {}};
    net::co_spawn(io, accept_loop(l.derp, ctx, false), net::detached);
    if (o.stun) {
        const ListenAddr stun_addr{addr.ip, static_cast<std::uint16_t>(o.stun_port)};
        l.stun.emplace(bind_udp(net::make_strand(io), stun_addr, "--stun-port"));
        net::co_spawn(l.stun->get_executor(), stun::serve_stun(*l.stun, ctx.stun), net::detached);
    }
    if (!o.metrics_addr.empty()) {
        l.metrics.emplace(
            listen_tcp(io.get_executor(), parse_listen_addr(o.metrics_addr, "--metrics-addr"), "--metrics-addr"));
        net::co_spawn(io, accept_loop(*l.metrics, ctx, true), net::detached);
    }
    return l;
}

// derper re-resolves the bootstrap names every 10 minutes; a stop request ends the wait at once.
std::jthread start_dns_refresher(BootstrapDns& dns) {
    if (!dns.enabled()) return {};
    return std::jthread([&dns](std::stop_token st) {
        std::mutex m;
        std::condition_variable_any cv;
        while (!st.stop_requested()) {
            dns.refresh();
            std::unique_lock lk(m);
            cv.wait_for(lk, st, 10min, [] { return false; });
        }
    });
}

// Runs `io` on `threads` threads until SIGINT or SIGTERM.
void run_until_signal(net::io_context& io, unsigned threads) {
    net::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        spdlog::info("signal {}: shutting down", sig);
        io.stop();
    });
    std::vector<std::jthread> workers;
    for (unsigned i = 1; i < threads; ++i) workers.emplace_back([&] { io.run(); });
    io.run();
    for (auto& w : workers) w.join();
}

}  // namespace

int run(const Options& o) {
    derp::ConnOptions conn = check_options(o);
    bool created = false;
    derp::DerpServer::Options dopts{load_or_create_key_file(o.key_file, &created)};
    if (created) spdlog::info("created server key file {}", o.key_file);
    if (!o.mesh_psk_file.empty()) dopts.mesh_key = derp::load_mesh_key(o.mesh_psk_file);
    const std::optional<Key32> derp_mesh_key = dopts.mesh_key;
    std::unique_ptr<NodeKeySet> keys;
    if (o.verify_clients) {
        keys = std::make_unique<NodeKeySet>(db_target(o));
        spdlog::info("verify-clients: {} node keys loaded from {}", keys->size(), keys->name());
        dopts.admit = [k = keys.get()](const PublicKey& key) { return k->admits(key); };
    }
    std::optional<ssl::context> tls = make_tls(o);
    std::unique_ptr<acme::LiveTls> live;
    if (o.certmode == "letsencrypt") live = std::make_unique<acme::LiveTls>();
    // Lets TLS 1.3 clients skip waiting for the 101 (fast start).
    const std::string public_hex = to_hex(dopts.private_key.public_key().bytes);
    if (tls) add_derp_meta_cert(*tls, public_hex, derp::kProtocolVersion);
    if (live) live->add_trailing_certificate(derp_meta_cert_pem(public_hex, derp::kProtocolVersion));
    // io outlives the relay: clients still registered at exit hold hooks on io's strands, and
    // destroying those after io's services were gone used a destroyed mutex (ThreadSanitizer,
    // tests/bench/derp_tsan.sh). Suspended connections in io touch the relay only when resumed.
    const unsigned threads = worker_threads();
    net::io_context io(static_cast<int>(threads));
    derp::DerpServer derp(std::move(dopts));
    stun::Counters stun_counters;

    std::unique_ptr<derp::Mesh> mesh;
    if (!o.mesh_with.empty()) {
        try {
            mesh = std::make_unique<derp::Mesh>(io, derp, split_comma_list(o.mesh_with), *derp_mesh_key);
        } catch (const std::invalid_argument& e) {
            throw std::runtime_error(std::string("--mesh-with: ") + e.what());
        }
    }
    // Webhook calls block on the network: they get their own threads, never the relay's.
    net::thread_pool webhook_pool(4);
    std::unique_ptr<derp::WebhookVerifier> webhook;
    if (!o.verify_client_url.empty()) {
        webhook = std::make_unique<derp::WebhookVerifier>(o.verify_client_url, o.verify_client_url_fail_open,
                                                          webhook_pool.get_executor());
        conn.verify = [w = webhook.get()](const PublicKey& k, const derp::ConnMeta& m) { return w->admit(k, m); };
        spdlog::info("verify-client-url: asking {} (fail {})", o.verify_client_url,
                     o.verify_client_url_fail_open ? "open" : "closed");
    }
    BootstrapDns bootstrap_dns(o.bootstrap_dns_names, o.unpublished_bootstrap_dns_names);
    std::unique_ptr<acme::CertManager> acme;
    if (live) acme = make_cert_manager(o, net::make_strand(io), *live);
    ssl::context* server_tls = live ? &live->context() : tls ? &*tls : nullptr;
    Ctx ctx{derp, server_tls, conn, stun_counters, keys.get(), mesh.get(), &bootstrap_dns, acme.get()};
    Listeners listeners = start_listeners(io, o, ctx);
    // No certificate at all ends the process: plain HTTP is never the fallback.
    std::string fatal;
    if (acme)
        acme->start([&](const std::string& why) {
            fatal = why;
            io.stop();
        });

    if (mesh) mesh->start();
    std::jthread dns_refresher = start_dns_refresher(bootstrap_dns);
    std::jthread poller;
    if (keys) poller = std::jthread([&](std::stop_token st) { verify_poller(st, *keys, derp); });
    spdlog::info("serving DERP on {}://{} (server key {}){}", server_tls ? "https" : "http",
                 endpoint_text(listeners.derp.local_endpoint()), key_text(kNodePrefix, derp.public_key().bytes),
                 o.stun ? ", STUN on UDP port " + std::to_string(o.stun_port) : "");
    run_until_signal(io, threads);
    if (acme) acme->stop();
    if (!fatal.empty()) throw std::runtime_error(fatal);
    return 0;
}

}  // namespace hs::derper
