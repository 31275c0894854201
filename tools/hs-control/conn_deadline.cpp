#include "tools/hs-control/conn_deadline.h"

#include <cstdlib>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "common/base/duration.h"
#include "common/base/prometheus.h"

namespace hs::control {

namespace {
constexpr const char* kEnv = "HS_TEST_TS2021_TIMEOUTS";
}  // namespace

Ts2021Limits parse_ts2021_limits(const std::string& text) {
    const auto comma = text.find(',');
    try {
        if (comma == std::string::npos) throw DurationError("expected FIRST_REQUEST,IDLE");
        Ts2021Limits l{parse_duration(text.substr(0, comma)), parse_duration(text.substr(comma + 1))};
        if (l.first_request.count() <= 0 || l.idle.count() <= 0) throw DurationError("both must be above zero");
        return l;
    } catch (const DurationError& e) {
        throw std::runtime_error(std::string(kEnv) + "=\"" + text + "\": " + e.what());
    }
}

const Ts2021Limits& ts2021_limits() {
    static const Ts2021Limits limits = [] {
        const char* v = std::getenv(kEnv);
        return v && *v ? parse_ts2021_limits(v) : Ts2021Limits{};
    }();
    return limits;
}

Deadline ConnActivity::check(TimePoint now, bool long_poll, const Ts2021Limits& limits) const {
    if (long_poll) return Deadline::None;
    if (!requested && now - opened >= limits.first_request) return Deadline::NoRequest;
    if (now - heard >= limits.idle) return Deadline::Idle;
    return Deadline::None;
}

void DeadlineCloses::note(Deadline d, const std::string& peer, const std::string& machine_key) {
    if (d == Deadline::None) return;
    ++(d == Deadline::NoRequest ? no_request_ : idle_);
    const auto held = limiter_.allow("deadline");
    if (!held) return;
    const auto n = *held + 1;
    const auto& l = ts2021_limits();
    spdlog::info("ts2021 {} ({}): closing: {}{}", peer, machine_key,
                 d == Deadline::NoRequest ? "no request within " + format_duration(l.first_request) + " of the upgrade"
                                          : "silent for " + format_duration(l.idle) + " without a map stream",
                 n > 1 ? " (" + std::to_string(n) + " connections closed by a deadline since the last such line)" : "");
}

std::string DeadlineCloses::prometheus_text() const {
    prometheus::Writer w;
    const char* name = "hs_control_ts2021_deadline_closes_total";
    w.family(name, "counter", "TS2021 connections closed for want of a request or for silence.");
    w.sample(name, no_request_, {{"reason", "no_request"}});
    w.sample(name, idle_, {{"reason", "idle"}});
    return w.take();
}

}  // namespace hs::control
