#include "tools/hs-control/login_guard.h"

#include <spdlog/spdlog.h>

#include "common/admin/signin.h"
#include "common/base/prometheus.h"
#include "common/store/store.h"
#include "tools/hs-control/source_limits.h"

namespace hs::control {
namespace {

// SIGNIN-EVENTS' `method` values.
const char* method_of(LoginGuard::Kind k) {
    switch (k) {
        case LoginGuard::Kind::PreAuthKey: return "preauthkey";
        case LoginGuard::Kind::ApiKey: return "apikey";
        case LoginGuard::Kind::RegistrationId: return "registration_id";
        case LoginGuard::Kind::Password: return "password";
    }
    return "unknown";
}

}  // namespace

std::string LoginGuard::object_of(const std::string& key) {
    // Accounts as every other audit row names users (admin ops, unlock): with their ID.
    if (key.rfind("user:", 0) == 0) try {
            if (const auto u = store::find_user_by_name(db_, key.substr(5))) return admin::user_object(*u);
        } catch (const std::exception&) {
            // the name alone, below
        }
    return admin::lock_object(key);
}

admin::ThrottleConfig throttle_config(const Config::Limits& l) {
    using std::chrono::duration_cast;
    using std::chrono::seconds;
    admin::ThrottleConfig c;
    c.burst = l.source_burst;
    c.per_second = 1000.0 / static_cast<double>(l.source_refill.count());
    c.key_failures = l.failures;
    c.key_window = duration_cast<seconds>(l.window);
    c.first_lockout = duration_cast<seconds>(l.lockout);
    c.max_lockout = duration_cast<seconds>(l.max_lockout);
    return c;
}

std::string peer_ip(const std::string& peer) {
    const auto colon = peer.rfind(':');
    return colon == std::string::npos ? peer : peer.substr(0, colon);
}

const char* LoginGuard::kind_name(Kind k) {
    switch (k) {
        case Kind::PreAuthKey: return "preauth_key";
        case Kind::ApiKey: return "api_key";
        case Kind::RegistrationId: return "registration_id";
        case Kind::Password: return "password";
    }
    return "unknown";
}

void LoginGuard::load(const std::string& key) {
    const auto row = store::find_signin_lock(db_, key);
    if (!row) {
        throttle_.unlock(key);
        return;
    }
    throttle_.restore(key, {row->failures, row->window_start, row->lockouts, row->locked_until});
}

std::optional<std::chrono::seconds> LoginGuard::throttled(Kind kind, const std::string& peer, TimePoint now) {
    auto wait = throttle_.source_wait(source_of(peer), now);
    if (wait) ++throttled_[static_cast<int>(kind)];
    return wait;
}

std::optional<TimePoint> LoginGuard::locked(const std::string& key, TimePoint now) {
    load(key);
    return throttle_.locked_until(key, now);
}

void LoginGuard::failed(Kind kind, const std::string& peer, const std::string& key, const std::string& reason,
                        TimePoint now, const std::string& method) {
    ++failures_[static_cast<int>(kind)];
    const auto ip = peer_ip(peer);
    // Read, count and store in one transaction: several hs-control instances counting the same
    // key's failures at once must not each store their count over the other's. Should the
    // database be busy, the failure is still counted, as before, from the row read outside one.
    std::optional<Db::Tx> tx;
    if (!key.empty()) {
        try {
            tx.emplace(db_);
        } catch (const DbError& e) {
            spdlog::warn("sign-in lock of {} counted outside a transaction: {}", admin::lock_object(key), e.what());
        }
        load(key);
    }
    const bool locked_now = throttle_.failure(source_of(peer), key, now);
    admin::audit_signin(db_, now, "signin.failed", "anonymous", key.empty() ? "unknown" : object_of(key), ip,
                        {{"method", method.empty() ? method_of(kind) : method}, {"reason", reason}});
    if (key.empty()) return;
    const auto& s = throttle_.keys().at(key);
    try {
        store::save_signin_lock(db_, {key, s.failures, s.window_start, s.lockouts, s.locked_until}, now);
        if (tx) tx->commit();
    } catch (const std::exception& e) {
        spdlog::error("sign-in lock of {} not stored: {}", admin::lock_object(key), e.what());
    }
    if (!locked_now) return;
    ++lockouts_[static_cast<int>(kind)];
    spdlog::warn("{} locked until {} after {} failed attempts (last from {}); lockout {}", admin::lock_object(key),
                 format_time(*s.locked_until), throttle_.config().key_failures, ip, s.lockouts);
    admin::audit_signin(db_, now, "signin.locked", "hs-control", object_of(key), ip,
                        {{"until", format_time(*s.locked_until)}, {"lockouts", s.lockouts}});
}

void LoginGuard::refused_locked(Kind kind, const std::string& peer, const std::string& key, TimePoint now) {
    ++failures_[static_cast<int>(kind)];
    // Each answer writes an audit row: the source pays for it, so a flood at a locked account
    // writes rows at the source's rate, not the attacker's.
    throttle_.failure(source_of(peer), "", now);
    admin::audit_signin(db_, now, "signin.failed", "anonymous", object_of(key), peer_ip(peer),
                        {{"method", method_of(kind)}, {"reason", "locked"}});
}

void LoginGuard::succeeded(Kind kind, const std::string& peer, const std::string& key, const std::string& actor,
                           const std::string& object, TimePoint now, const std::string& method) {
    const auto row = key.empty() ? std::nullopt : store::find_signin_lock(db_, key);
    const bool had_failures = row && row->failures > 0;
    if (had_failures) {
        auto next = *row;
        next.failures = 0;
        try {
            store::save_signin_lock(db_, next, now);
        } catch (const std::exception& e) {
            spdlog::error("sign-in lock of {} not stored: {}", admin::lock_object(key), e.what());
        }
    }
    if (!key.empty()) throttle_.success(key);
    if (kind == Kind::ApiKey && !had_failures) return;
    const auto ip = peer_ip(peer);
    // The object the failures named, so "success after failures" pairs them (admin/event_derive).
    admin::audit_signin(
        db_, now, "signin.succeeded", actor, key.empty() ? object : object_of(key), ip,
        {{"method", method.empty() ? method_of(kind) : method}, {"network", admin::signin_network(ip)}});
}

std::string LoginGuard::metrics_text(TimePoint now) const {
    prometheus::Writer w;
    const Kind kinds[] = {Kind::PreAuthKey, Kind::ApiKey, Kind::RegistrationId, Kind::Password};
    const auto by_kind = [&](const char* name, const char* help, const std::array<std::uint64_t, kKinds>& v) {
        w.family(name, "counter", help);
        for (auto k : kinds) w.sample(name, v[static_cast<int>(k)], {{"kind", kind_name(k)}});
    };
    by_kind("hs_control_signin_failures_total", "Wrong secrets looked at, by kind.", failures_);
    by_kind("hs_control_signin_throttled_total",
            "Attempts refused unread because their source failed too often (HTTP 429 or a register Error).",
            throttled_);
    by_kind("hs_control_signin_lockouts_total", "Keys and accounts locked after too many failures.", lockouts_);
    std::int64_t locked = 0;
    try {
        locked = store::count_signin_locked(db_, now);
    } catch (const std::exception&) {
        locked = -1;  // the database cannot be read; /health says so
    }
    w.gauge("hs_control_signin_locked", "Keys and accounts locked now (-1: the database could not be read).", locked);
    return w.take();
}

}  // namespace hs::control
