#include "common/base/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include <spdlog/spdlog.h>

namespace hs {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
    throw FileError(path + ": " + what + ": " + std::strerror(errno));
}

std::string dir_of(const std::string& path) {
    const auto dir = std::filesystem::path(path).parent_path();
    return dir.empty() ? "." : dir.string();
}

std::string mode_text(unsigned mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", mode & 07777u);
    return buf;
}

}  // namespace

std::string fs_error_text(const std::string& what, const std::string& path, int err) {
    const std::string head = what + " " + path + ": ";
    switch (err) {
        case EROFS: return head + "the filesystem is read-only (EROFS)";
        case ENOENT: return head + "the directory " + dir_of(path) + " does not exist (ENOENT)";
        case ENOTDIR: return head + "a part of " + dir_of(path) + " is not a directory (ENOTDIR)";
        case EACCES:
        case EPERM:
            return head + "permission denied: this user may not write in " + dir_of(path) + " or the file (" +
                   (err == EACCES ? "EACCES" : "EPERM") + ")";
        case ENOSPC: return head + "no space left on the device (ENOSPC)";
        case EDQUOT: return head + "disk quota exceeded (EDQUOT)";
        default: return head + std::strerror(err);
    }
}

void make_private_dirs(const std::string& path) {
    namespace fs = std::filesystem;
    const auto dir = fs::path(path).parent_path();
    std::error_code ec;
    if (dir.empty() || fs::exists(dir, ec)) return;
    make_private_dirs(dir.string());
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        throw FileError(fs_error_text("cannot create", path, errno));
    ::chmod(dir.c_str(), 0700);  // mkdir's mode is masked by the umask
}

std::string creation_problem(const std::string& path, bool make_dirs) {
    namespace fs = std::filesystem;
    auto dir = fs::path(path).parent_path();
    if (dir.empty()) dir = ".";
    std::error_code ec;
    while (make_dirs && !fs::exists(dir, ec) && dir.has_parent_path() && dir.parent_path() != dir)
        dir = dir.parent_path();
    if (::access(dir.c_str(), W_OK) == 0) return {};
    return fs_error_text("cannot create", path, errno);
}

void check_private_file(const std::string& path, GroupRead group) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) fail(path, "cannot stat");
    const unsigned mode = st.st_mode & 0777u;
    if ((mode & 077u) == 0) return;
    const std::string problem = path + ": permissions " + mode_text(mode) +
                                " are too open: a private key must not be " +
                                "accessible by group or others; fix with: chmod 600 " + path;
    if (group == GroupRead::Warn && (mode & 037u) == 0) {
        spdlog::warn("{} (the group may read it; accepted for keys shared through a group such as ssl-cert)", problem);
        return;
    }
    throw FileError(problem);
}

namespace {

// Reads `fd` to EOF; more than `limit` bytes is an error naming `name`.
std::string read_all(int fd, const std::string& name, std::size_t limit) {
    std::string out;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail(name, "cannot read");
        }
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > limit) throw FileError(name + ": longer than " + std::to_string(limit) + " bytes");
    }
    return out;
}

}  // namespace

std::string read_file(const std::string& path, std::size_t limit) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(path, "cannot open");
    try {
        auto out = read_all(fd, path, limit);
        ::close(fd);
        return out;
    } catch (...) {
        ::close(fd);  // the message already holds the reason
        throw;
    }
}

std::string read_stdin(std::size_t limit) { return read_all(0, "stdin", limit); }

void write_file_atomic(const std::string& path, const std::string& data, unsigned mode, bool overwrite) {
    namespace fs = std::filesystem;
    if (!overwrite && ::access(path.c_str(), F_OK) == 0)
        throw FileError(path + ": already exists (use --force to overwrite)");
    const auto dir = fs::path(path).parent_path();
    std::random_device rd;
    const std::string tmp = (dir.empty() ? fs::path(".") : dir).string() + "/." + fs::path(path).filename().string() +
                            ".tmp" + std::to_string(rd());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) throw FileError(fs_error_text("cannot create", path, errno));
    auto cleanup = [&](const std::string& what) {
        const int e = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        errno = e;
        fail(path, what);
    };
    if (::fchmod(fd, mode) != 0) cleanup("cannot set mode");
    std::size_t off = 0;
    while (off < data.size()) {
        const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            cleanup("cannot write");
        }
        off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) cleanup("cannot sync");
    ::close(fd);
    // link() refuses to replace, which closes the race between the access() check and now.
    if (!overwrite) {
        if (::link(tmp.c_str(), path.c_str()) != 0) {
            const int e = errno;
            ::unlink(tmp.c_str());
            errno = e;
            if (e == EEXIST) throw FileError(path + ": already exists (use --force to overwrite)");
            throw FileError(fs_error_text("cannot create", path, e));
        }
        ::unlink(tmp.c_str());
        return;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        errno = e;
        fail(path, "cannot replace");
    }
}

}  // namespace hs
