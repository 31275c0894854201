// WAL checkpoints on their own thread. With synchronous=NORMAL a commit never waits for the
// disk; the fsyncs happen when the WAL is copied back into the database (SQLite's "WAL mode"
// notes). hs-control turns SQLite's automatic checkpoint off on its event-loop connection and
// lets this thread do the copying, so a slow disk delays checkpoints, never map delivery.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace hs {

class DbCheckpointer {
public:
    // Checkpoints `path` every `interval` (PASSIVE: it never blocks readers or writers, and
    // costs a read of the WAL index when nothing is new). `enabled` false starts no thread, for
    // wal_autocheckpoint 0, where the operator checkpoints.
    DbCheckpointer(std::string path, bool enabled, std::chrono::milliseconds interval = std::chrono::seconds(1));
    ~DbCheckpointer();  // stops the thread after one last checkpoint
    DbCheckpointer(const DbCheckpointer&) = delete;
    DbCheckpointer& operator=(const DbCheckpointer&) = delete;

    // Checkpoints that copied something (for tests and metrics).
    long checkpoints() const;

private:
    void run();

    std::string path_;

    std::chrono::milliseconds interval_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    long done_ = 0;
    std::thread thread_;
};

}  // namespace hs
