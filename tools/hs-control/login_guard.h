// hs-control's attempt limiter (issue 16): one per server, consulted wherever a secret is
// checked (pre-auth keys at /machine/register, API keys at /api/v1 and /api/hs/v1, registration
// IDs at /register/<id> and the approval endpoints, built-in accounts' passwords and codes). It wraps admin::Throttle: a per-source
// bucket of failures (by default 20 at once, then 1 a second; IPv6 sources by /64) and per-key
// lockouts (5 failures in 15 minutes lock the key for 15 minutes, doubling on each further
// lockout up to 24 hours); auth.limits changes the numbers.
//
// The per-key state lives in the database (signin_locks), read before each decision and written
// after each failure, so a lockout survives a restart and `hs-admin ... unlock` on the file
// takes effect at once. Every failure looked at, every lockout and every pre-auth key sign-in
// is an audit row (SIGNIN-EVENTS: signin.failed, signin.locked, signin.succeeded).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/admin/throttle.h"
#include "common/config/config.h"
#include "common/store/db.h"

namespace hs::control {

class LoginGuard {
public:
    // What kind of secret was tried (the metrics' `kind` label, the audit rows' `method`).
    enum class Kind { PreAuthKey, ApiKey, RegistrationId, Password };
    static constexpr int kKinds = 4;

    explicit LoginGuard(Db& db, admin::ThrottleConfig c = {}) : db_(db), throttle_(c) {}

    // How long the sender of `peer` ("ip:port") must wait before its next attempt is looked at;
    // nullopt: go ahead. A wait counts as a throttled request of `kind`.
    std::optional<std::chrono::seconds> throttled(Kind kind, const std::string& peer, TimePoint now);
    // When `key` (admin::lock_key_*) is locked at `now`, the lock's end. Reads the stored row
    // first: an unlock by another process counts at once.
    std::optional<TimePoint> locked(const std::string& key, TimePoint now);
    // A wrong secret from `peer`. `key` names the credential tried when it exists ("" when no
    // known one was named: only the source pays); `reason` goes into the audit row, and
    // `method` when given (a password sign-in's "totp" step) instead of the kind's. Writes
    // signin.failed, and signin.locked when this failure locked the key.
    void failed(Kind kind, const std::string& peer, const std::string& key, const std::string& reason, TimePoint now,
                const std::string& method = "");
    // An attempt at a locked `key` answered without looking at the secret (a built-in account:
    // no hash computed). Counted as a failure of `kind`, written as signin.failed "locked" and
    // paid by the source (its audit row is a write), but the lock does not grow.
    void refused_locked(Kind kind, const std::string& peer, const std::string& key, TimePoint now);
    // A correct secret for `key`: its failure count starts over. Writes signin.succeeded with
    // `actor` and `object` (the key's object when `key` is set) for pre-auth keys and passwords
    // always, for API keys only when the key had failures before (one row per request would
    // drown the trail). `method` as for failed().
    void succeeded(Kind kind, const std::string& peer, const std::string& key, const std::string& actor,
                   const std::string& object, TimePoint now, const std::string& method = "");

    // Prometheus text: failures, throttled requests and lockouts by kind, locked keys now.
    std::string metrics_text(TimePoint now) const;

    static const char* kind_name(Kind k);

private:
    // What an audit row names for `key`: admin::lock_object, users with their ID.
    std::string object_of(const std::string& key);
    // The stored row for `key` into the throttle (or the key forgotten when there is none).
    void load(const std::string& key);

    Db& db_;
    admin::Throttle throttle_;
    std::array<std::uint64_t, kKinds> failures_{}, throttled_{}, lockouts_{};
};

// The limiter's numbers from auth.limits (validated there: durations of at least a second).
admin::ThrottleConfig throttle_config(const Config::Limits& l);

// "1.2.3.4" from "1.2.3.4:5678", "::1" from "::1:5678" (the server's unbracketed peer form).
std::string peer_ip(const std::string& peer);

}  // namespace hs::control
