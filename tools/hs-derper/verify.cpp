#include "tools/hs-derper/verify.h"

#include <mutex>

#include "common/base/log.h"
#include "common/store/store.h"

namespace hs::derper {
namespace {

Db::Options read_only(const DbTarget& target) {
    Db::Options o;
    o.postgres = target.postgres;
    o.read_only = true;
    // Readers do not wait for writers in WAL mode; a short timeout keeps a stuck file from
    // stalling the poll for long.
    o.busy_timeout = std::chrono::milliseconds(1000);
    return o;
}

}  // namespace

NodeKeySet::NodeKeySet(const DbTarget& target) : db_(target.name, read_only(target)) { load(); }

void NodeKeySet::load() {
    // Taken before the read, kept only after it: a change committed meanwhile is read next time,
    // and a read that failed (a lost PostgreSQL connection) is tried again at the next poll.
    const auto version = db_.data_version();
    std::unordered_map<PublicKey, std::optional<TimePoint>, derp::KeyHash> keys;
    std::size_t bad = 0;
    for (const auto& row : store::node_keys(db_)) {
        try {
            const PublicKey k{parse_key_text(row.node_key, kNodePrefix)};
            std::optional<TimePoint> expiry;
            if (!row.expiry.empty()) {
                expiry = parse_time(row.expiry);
                if (!expiry) throw KeyError("bad expiry");  // unreadable: treat as not admitted
            }
            keys[k] = expiry;
        } catch (const KeyError&) {
            ++bad;  // a row another tool wrote badly must not stop the others from connecting
        }
    }
    if (bad) spdlog::warn("verify-clients: {} node keys in {} are malformed and ignored", bad, db_.path());
    std::unique_lock lk(mu_);
    keys_ = std::move(keys);
    version_ = version;
}

bool NodeKeySet::reload_if_changed() {
    if (db_.data_version() == version_) return false;
    load();
    return true;
}

bool NodeKeySet::admits(const PublicKey& key, TimePoint now) const {
    std::shared_lock lk(mu_);
    const auto it = keys_.find(key);
    return it != keys_.end() && (!it->second || *it->second > now);
}

std::size_t NodeKeySet::size() const {
    std::shared_lock lk(mu_);
    return keys_.size();
}

}  // namespace hs::derper
