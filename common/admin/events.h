// Events derived from the audit trail's sign-in rows (docs/security.md, "Events"): a sign-in
// from a network the account never used, a success right after failures, a lockout. Pure:
// audit rows in, event names out, so hs-admin events, hs-control's log and its webhooks
// derive the same events from the same rows.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/admin/json.h"

namespace hs::admin {

// Every event name, for `events:` filters in the config.
const std::vector<std::string>& event_names();

// The network a sign-in came from: "a.b.c.0/24" for IPv4, the first 64 bits "/64" for IPv6,
// "" when `address` is not an IP address ("local", "unknown").
std::string network_of(std::string_view address);

// One event a row raises: its name and what the derivation adds to the row (the network, the
// number of failures).
struct DerivedEvent {
    std::string name;
    json detail = json::object();
};

// Keeps what the derivation needs to remember between rows, bounded: the networks of the most
// recently active accounts and the recent failures of the most recently failing objects. When
// a bound is reached the least recently seen account or object is forgotten (its next sign-in
// counts as its first, which raises no new_network event).
class EventDeriver {
public:
    struct Limits {
        std::size_t accounts = 10000;
        std::size_t networks_per_account = 32;
        std::size_t failing_objects = 10000;
        std::size_t failures_per_object = 256;
    };
    // The window in which failures before a success raise signin.after_failures: the lockout
    // window's default (issue 16: 5 failures in 15 min).
    static constexpr std::chrono::minutes kFailureWindow{15};

    EventDeriver() = default;
    explicit EventDeriver(Limits l) : limits_(l) {}

    // The events row `e` raises, in a fixed order (the row's own kind first). Rows must come
    // in id order; each is remembered for the rows after it.
    std::vector<DerivedEvent> feed(const store::AuditEntry& e);

    std::size_t accounts_remembered() const { return accounts_.size(); }
    std::size_t objects_remembered() const { return failures_.size(); }

private:
    struct Account {
        std::deque<std::string> networks;  // most recent last
        std::uint64_t used = 0;
    };
    struct Failures {
        std::deque<TimePoint> at;
        std::uint64_t used = 0;
    };
    void on_success(const store::AuditEntry& e, std::vector<DerivedEvent>& out);
    void on_failure(const store::AuditEntry& e);
    template <class Map>
    void evict_oldest(Map& m, std::size_t limit);

    Limits limits_;
    std::uint64_t tick_ = 0;
    std::map<std::string, Account> accounts_;
    std::map<std::string, Failures> failures_;
};

// Reads events from the audit trail in id order, deriving as it goes: hs-admin events (one
// read or --follow), hs-control's event log and each webhook. The first read replays up to
// kPrimeRows earlier sign-in rows into the deriver without raising anything, so "new network"
// means new against the account's history, not against what this reader happened to see.
class EventReader {
public:
    static constexpr std::int64_t kPrimeRows = 100000;
    // Starts after row `after_id` and at or after `since`.
    EventReader(TimePoint since, std::int64_t after_id, EventDeriver::Limits l = {})
        : since_(since), last_(after_id), deriver_(l) {}
    // The events of rows committed since the last call, oldest first, at most `limit` rows
    // read: each is the row as audit_json prints it plus "event" and the derivation's detail.
    std::vector<json> next(Db& db, std::int64_t limit = 100000);
    // The id of the last row read.
    std::int64_t last_id() const { return last_; }
    const EventDeriver& deriver() const { return deriver_; }

private:
    TimePoint since_;
    std::int64_t last_;
    bool primed_ = false;
    EventDeriver deriver_;
};

}  // namespace hs::admin
