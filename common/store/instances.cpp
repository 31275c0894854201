// Several hs-control instances on one PostgreSQL database (docs/scale-out.md). Each holds a slot,
// a session advisory lock that PostgreSQL releases with the connection, so a crashed instance
// frees its slot at once; nodes.online has one bit per slot. SQLite has one hs-control (the lock
// file beside the database), always slot 0.
#include <unistd.h>

#include "common/base/timeutil.h"
#include "common/store/store.h"

namespace hs::store {

namespace {

// pg_try_advisory_lock keys ("hs-ctrl" + a number). An hs-control before schema version 11
// took kInstanceLock exclusively; instances now share it, so neither runs beside the other.
constexpr std::int64_t kInstanceLock = 7521969672384259171;
constexpr std::int64_t kSlotLockBase = 7521969672384259200;

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "?";
    return buf;
}

}  // namespace

int claim_instance_slot(Db& db) {
    if (!db.postgres()) return 0;
    if (!db.try_session_lock_shared(kInstanceLock))
        throw DbError(db.path() + ": an hs-admin import headscale, or an hs-control older than schema version 11, " +
                      "is running on this database (it holds PostgreSQL advisory lock " +
                      std::to_string(kInstanceLock) + " alone); wait for it or stop it first. Nothing was changed.");
    for (int slot = 0; slot < kMaxInstances; ++slot)
        if (db.try_session_lock(kSlotLockBase + slot)) return slot;
    throw DbError(db.path() + ": " + std::to_string(kMaxInstances) +
                  " hs-control instances already run on this database, the most it supports. Nothing was changed.");
}

void exclude_instances(Db& db) {
    if (!db.postgres()) return;
    // Every live instance holds kInstanceLock shared (claim_instance_slot): taking it alone
    // succeeds only when none runs, and keeps any from starting until this connection closes.
    if (!db.try_session_lock(kInstanceLock))
        throw DbError(db.path() + ": an hs-control is running on this database (PostgreSQL advisory lock " +
                      std::to_string(kInstanceLock) + " is held); stop every hs-control using it first");
}

std::uint64_t live_instance_slots(Db& db) {
    if (!db.postgres()) return 1;
    // An advisory lock on a bigint key shows in pg_locks as its high and low 32 bits.
    auto st = db.prepare(
        "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 "
        "AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
    std::uint64_t live = 0;
    while (st.step()) {
        // Unsigned: other advisory keys (a webhook's, any application's) may be negative.
        const auto slot = static_cast<std::uint64_t>(st.int64(0)) - static_cast<std::uint64_t>(kSlotLockBase);
        if (slot < kMaxInstances) live |= std::uint64_t{1} << slot;
    }
    return live;
}

int reap_dead_instances(Db& db, TimePoint now) {
    if (!db.postgres()) return 0;
    // Under the write lock: an instance that claims a dead slot after the look at pg_locks
    // writes its first bit only after this transaction, so its bits are never cleared here.
    Db::Tx tx(db);
    const auto dead = ~live_instance_slots(db) & kAllInstanceBits;
    auto st = db.prepare(
        "UPDATE nodes SET online = online & ~CAST(?1 AS BIGINT), last_seen = ?2 WHERE (online & CAST(?1 AS BIGINT)) != "
        "0");
    st.bind(1, static_cast<std::int64_t>(dead)).bind(2, format_time(now)).run();
    const int cleared = db.changes();
    db.prepare(
          "DELETE FROM control_instances WHERE (CAST(1 AS BIGINT) << CAST(slot AS INTEGER)) & CAST(? AS BIGINT) != 0")
        .bind(1, static_cast<std::int64_t>(dead))
        .run();
    tx.commit();
    return cleared;
}

void clear_instance_presence(Db& db, int slot) {
    const auto bit = static_cast<std::int64_t>(std::uint64_t{1} << slot);
    db.prepare("UPDATE nodes SET online = online & ~CAST(?1 AS BIGINT) WHERE (online & CAST(?1 AS BIGINT)) != 0")
        .bind(1, bit)
        .run();
    // One instance owns the whole database on SQLite: nobody serves a route before it elects.
    if (!db.postgres()) db.exec("UPDATE nodes SET primary_routes = '[]' WHERE primary_routes != '[]'");
}

void register_instance(Db& db, int slot, const std::string& noise_public_key, TimePoint now) {
    if (!db.postgres()) return;
    Db::Tx tx(db);
    const auto live = live_instance_slots(db);
    auto st = db.prepare("SELECT slot, host, pid, noise_key FROM control_instances ORDER BY slot");
    while (st.step()) {
        const auto other = st.int64(0);
        if (other == slot || other < 0 || other >= kMaxInstances || !(live & (std::uint64_t{1} << other))) continue;
        if (st.text(3) == noise_public_key) continue;
        throw DbError(db.path() + ": the hs-control in slot " + std::to_string(other) + " (" + st.text(1) + ", pid " +
                      std::to_string(st.int64(2)) + ") uses another Noise key (" + st.text(3) + ", this one " +
                      noise_public_key +
                      "); clients pin the key, so every instance needs the same noise.private_key_path contents. "
                      "Nothing was changed.");
    }
    db.prepare("DELETE FROM control_instances WHERE slot = ?").bind(1, std::int64_t{slot}).run();
    db.prepare("INSERT INTO control_instances (slot, host, pid, noise_key, started_at) VALUES (?, ?, ?, ?, ?)")
        .bind(1, std::int64_t{slot})
        .bind(2, host_name())
        .bind(3, std::int64_t{::getpid()})
        .bind(4, noise_public_key)
        .bind(5, format_time(now))
        .run();
    tx.commit();
}

bool hold_duty(Db& db, Duty duty) { return db.hold_duty_lock(kSlotLockBase + 100 + static_cast<int>(duty)); }

}  // namespace hs::store
