// The ACL policy when policy.mode is "database": an append-only table whose newest row is the
// one in force, so every earlier version stays readable.
#include "common/store/store.h"

namespace hs::store {

std::optional<StoredPolicy> latest_policy(Db& db) {
    auto st = db.prepare("SELECT id, data, created_at FROM policies ORDER BY id DESC LIMIT 1");
    if (!st.step()) return std::nullopt;
    return StoredPolicy{st.int64(0), st.text(1), parse_time(st.text(2)).value_or(TimePoint{})};
}

StoredPolicy insert_policy(Db& db, const std::string& data) {
    const auto now = Clock::now();
    db.prepare("INSERT INTO policies(data, created_at) VALUES (?, ?)").bind(1, data).bind(2, format_time(now)).run();
    return *latest_policy(db);
}

}  // namespace hs::store
