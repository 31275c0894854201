// --verify-clients: admit only node keys of nodes in hs-control's database (the shared SQLite
// file or PostgreSQL) that have not expired. The database is opened read-only and re-read
// whenever another process commits to it; while it cannot be read, the last keys read stay.
#pragma once

#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "common/base/timeutil.h"
#include "common/derp/server.h"
#include "common/store/db.h"
#include "common/store/db_target.h"

namespace hs::derper {

class NodeKeySet {
public:
    // Opens the database read-only and loads the keys. Throws DbError naming it (target.name).
    explicit NodeKeySet(const DbTarget& target);

    // Thread-safe. True when `key` belongs to a node whose key has not expired at `now`.
    bool admits(const PublicKey& key, TimePoint now = Clock::now()) const;
    // Re-reads the keys if the file changed since the last load. Call from one thread.
    // Returns true when it re-read them.
    bool reload_if_changed();
    std::size_t size() const;
    // The database as messages name it (no password).
    const std::string& name() const { return db_.path(); }

private:
    void load();

    Db db_;
    std::int64_t version_ = -1;
    mutable std::shared_mutex mu_;
    std::unordered_map<PublicKey, std::optional<TimePoint>, derp::KeyHash> keys_;
};

}  // namespace hs::derper
