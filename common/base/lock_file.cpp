#include "common/base/lock_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hs {

namespace {

// The holder's pid as it wrote it, or "" when the file holds none (written by an older build,
// or the holder has not written it yet).
std::string recorded_pid(int fd) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    std::string s(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos ? s : "";
}

}  // namespace

LockFile::LockFile(const std::string& path, const std::string& what) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) throw LockError("cannot open lock file " + path + ": " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        const auto pid = recorded_pid(fd_);
        ::close(fd_);
        fd_ = -1;
        if (err == EWOULDBLOCK)
            throw LockError(what + " is in use by another process" + (pid.empty() ? "" : " (pid " + pid + ")") + ": " +
                            path + " is locked");
        throw LockError("cannot lock " + path + ": " + std::strerror(err));
    }
    const std::string text = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
        // The lock holds without the pid; only the message of a second instance is poorer.
    }
}

LockFile::~LockFile() {
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace hs
