// One hs-control per PostgreSQL database (SQLite's side is the lock file beside the database).
#include "common/store/store.h"

namespace hs::store {

// pg_try_advisory_lock key of a running hs-control ("hs-ctrl"); the session holds it until the
// connection ends, so a crashed instance releases it with its connection.
constexpr std::int64_t kInstanceLock = 7521969672384259171;

void take_instance_lock(Db& db) {
    if (db.try_session_lock(kInstanceLock)) return;
    throw DbError(db.path() + ": another hs-control is running on this database (it holds PostgreSQL advisory lock " +
                  std::to_string(kInstanceLock) + "); one hs-control per database is supported. Nothing was changed.");
}

}  // namespace hs::store
