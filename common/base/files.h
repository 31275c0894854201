// Small file helpers with the guarantees key and config files need.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace hs {

struct FileError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Whole file as bytes; a file longer than `limit` bytes is an error. Throws FileError
// "path: reason".
std::string read_file(const std::string& path, std::size_t limit = SIZE_MAX);
// Reads stdin to EOF, at most `limit` bytes (more is an error: the input is not what we expect).
std::string read_stdin(std::size_t limit);

// "WHAT PATH: REASON" for errno `err`, worded so that a read-only mount, a missing directory or
// a directory this user may not write is recognised without knowing what errno means (SQLite
// and strerror say "unable to open database file" or "No such file or directory" for all of
// them). WHAT is e.g. "cannot create".
std::string fs_error_text(const std::string& what, const std::string& path, int err);

// Why `path` could not be created now, as fs_error_text words it; empty when it could. With
// `make_dirs` missing directories would be created too (their nearest existing ancestor must
// be writable). Creates nothing: for checks that must leave the machine as it is.
std::string creation_problem(const std::string& path, bool make_dirs);

// Creates the missing directories above `path` with mode 0700 (whatever the umask). Throws
// FileError worded by fs_error_text.
void make_private_dirs(const std::string& path);

// ssh's rule for private keys: group and others get no access. A key that breaks it throws
// FileError naming the file, its mode and the chmod that fixes it. With GroupRead::Warn a key
// the group may only read is logged as a warning instead (TLS keys shared through a group such
// as Debian's ssl-cert, mode 0640).
enum class GroupRead { Refuse, Warn };
void check_private_file(const std::string& path, GroupRead group = GroupRead::Refuse);

// Writes via a temporary file in the same directory, fsync and rename, so readers see the old
// content or the new, never a part. The file gets `mode` (e.g. 0600) from its creation on.
// When `overwrite` is false an existing file is left alone and FileError is thrown.
void write_file_atomic(const std::string& path, const std::string& data, unsigned mode, bool overwrite);

}  // namespace hs
