// Deadlines for TS2021 connections after the upgrade. The Noise handshake completes inside the
// upgrade request, so without them anyone can hold a connection (a descriptor and some 50 KiB;
// issue 19 held 5,000 silent ones) for as long as they like. A connection must complete a
// request soon after the upgrade, and one without a long poll (a map stream, or a register
// request held open for an interactive login) is closed after a silence. NoiseConn keeps a
// ConnActivity and asks it from its periodic tick; the Server counts and logs the closes.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/base/log.h"
#include "common/base/timeutil.h"

namespace hs::control {

struct Ts2021Limits {
    // Real clients send their first request (register or map) right after the handshake.
    std::chrono::milliseconds first_request{30000};
    // Clients keep the connection only for a map stream or a held login; between other
    // requests they may pause, but not for minutes.
    std::chrono::milliseconds idle{120000};
};

// "FIRST,IDLE" as durations ("2s,5s"), the test-only override of HS_TEST_TS2021_TIMEOUTS.
// Throws std::runtime_error naming the variable when malformed.
Ts2021Limits parse_ts2021_limits(const std::string& text);
// The limits in force: the defaults, or HS_TEST_TS2021_TIMEOUTS when set. Read once.
const Ts2021Limits& ts2021_limits();

enum class Deadline { None, NoRequest, Idle };

struct ConnActivity {
    TimePoint opened = Clock::now();
    TimePoint heard = opened;  // the last bytes from the client
    bool requested = false;    // a request was completed (dispatched)

    // `long_poll`: a map stream is attached, or a register request is held for a login or waits
    // out a busy write lock.
    Deadline check(TimePoint now, bool long_poll, const Ts2021Limits& limits) const;
};

// Counts the connections closed by a deadline, and logs them at most once per 10 s.
class DeadlineCloses {
public:
    void note(Deadline d, const std::string& peer, const std::string& machine_key);
    std::string prometheus_text() const;

private:
    std::uint64_t no_request_ = 0, idle_ = 0;
    LogLimiter limiter_{std::chrono::seconds(10)};
};

}  // namespace hs::control
