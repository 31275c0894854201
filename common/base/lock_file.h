// An exclusive lock on a file for the life of the process (flock(2)). hs-control holds
// "<database>.lock" so that a second instance started on the same database by mistake exits
// before it changes anything, instead of marking the running instance's nodes offline. The
// kernel drops the lock when the process ends, however it ends: no stale locks to clean up.
#pragma once

#include <stdexcept>
#include <string>

namespace hs {

struct LockError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class LockFile {
public:
    // Creates `path` if needed (mode 0600) and locks it without waiting, writing our pid into
    // it. Throws LockError, naming `what` and the pid of the holder when the file records one.
    LockFile(const std::string& path, const std::string& what);
    ~LockFile();
    LockFile(const LockFile&) = delete;
    LockFile& operator=(const LockFile&) = delete;

    const std::string& path() const { return path_; }

private:
    std::string path_;
    int fd_ = -1;
};

}  // namespace hs
