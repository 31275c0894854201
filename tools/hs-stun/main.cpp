// hs-stun: a standalone STUN server for Tailscale clients (what derper runs beside DERP).
#include <csignal>
#include <memory>
#include <thread>

#include "common/base/cli.h"
#include "common/base/duration.h"
#include "common/base/log.h"
#include "common/net/metrics_http.h"
#include "tools/hs-stun/batch.h"

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop = true; }

void log_counters(const hs::stun::Counters& c) {
    spdlog::info("stun: {} requests answered, {} responses sent, {} send errors, {} malformed datagrams dropped",
                 c.requests.load(), c.responses.load(), c.send_errors.load(), c.malformed_total());
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "Answer STUN binding requests so Tailscale clients learn their public address.\n\n"
        "  hs-stun -a :3478\n",
        "hs-stun"};
    hs::CommonFlags flags;
    hs::add_common_flags(app, flags);
    std::string addr = ":3478";
    std::string stats_interval = "1h";
    std::string metrics_addr;
    app.add_option("-a,--addr", addr, "UDP listen address: :PORT, IP:PORT or [IPv6]:PORT")->capture_default_str();
    app.add_option("--stats-interval", stats_interval, "How often to log the counters (0: only at exit)")
        ->check(hs::duration_validator())
        ->capture_default_str();
    app.add_option("--metrics-addr", metrics_addr, "Serve Prometheus metrics at http://ADDR/metrics (TCP)");
    return hs::run_main(app, flags, argc, argv, [&] {
        const auto every = hs::parse_duration(stats_interval);
        hs::stunsrv::BatchServer server(addr);
        struct sigaction sa {};
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, nullptr);
        sigaction(SIGTERM, &sa, nullptr);
        hs::stun::Counters counters;
        std::unique_ptr<hs::MetricsEndpoint> metrics;
        if (!metrics_addr.empty()) {
            metrics =
                std::make_unique<hs::MetricsEndpoint>(metrics_addr, [&counters] { return counters.prometheus_text(); });
            spdlog::info("metrics at http://{}/metrics", metrics->local_address());
        }
        std::jthread stats;
        if (every.count() > 0)
            stats = std::jthread([&](std::stop_token st) {
                auto next = std::chrono::steady_clock::now() + every;
                std::uint64_t seen = 0;
                while (!st.stop_requested()) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(250));
                    if (std::chrono::steady_clock::now() < next) continue;
                    next += every;
                    const auto total = counters.requests + counters.malformed_total();
                    if (total == seen) continue;  // quiet servers keep quiet logs
                    seen = total;
                    log_counters(counters);
                }
            });
        spdlog::info("serving STUN on UDP {}", server.local_address());
        server.run(g_stop, counters);
        log_counters(counters);
        return 0;
    });
}
