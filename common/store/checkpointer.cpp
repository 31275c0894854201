#include "common/store/checkpointer.h"

#include <sqlite3.h>

#include <spdlog/spdlog.h>

namespace hs {

DbCheckpointer::DbCheckpointer(std::string path, bool enabled, std::chrono::milliseconds interval)
    : path_(std::move(path)), interval_(interval) {
    if (enabled) thread_ = std::thread([this] { run(); });
}

DbCheckpointer::~DbCheckpointer() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

long DbCheckpointer::checkpoints() const {
    std::lock_guard lock(mu_);
    return done_;
}

void DbCheckpointer::run() {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
        spdlog::error("checkpoints of {}: cannot open it: {}", path_, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return;
    }
    // A connection opens the WAL on its first read; until then a checkpoint reports "not in
    // WAL mode" (log -1) and copies nothing.
    sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr);
    bool last = false;
    while (!last) {
        {
            std::unique_lock lock(mu_);
            cv_.wait_for(lock, interval_, [this] { return stop_; });
            last = stop_;
        }
        int log = 0, copied = 0;
        const int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
            spdlog::warn("checkpoint of {}: {}", path_, sqlite3_errmsg(db));
            continue;
        }
        if (copied > 0) {
            std::lock_guard lock(mu_);
            ++done_;
        }
    }
    sqlite3_close(db);
}

}  // namespace hs
