// Small file helpers with the guarantees key and config files need.
#pragma once

#include <stdexcept>
#include <string>

namespace hs {

struct FileError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Whole file as bytes. Throws FileError "path: reason".
std::string read_file(const std::string& path);
// Reads stdin to EOF, at most `limit` bytes (more is an error: the input is not what we expect).
std::string read_stdin(std::size_t limit);

// Writes via a temporary file in the same directory, fsync and rename, so readers see the old
// content or the new, never a part. The file gets `mode` (e.g. 0600) from its creation on.
// When `overwrite` is false an existing file is left alone and FileError is thrown.
void write_file_atomic(const std::string& path, const std::string& data, unsigned mode, bool overwrite);

}  // namespace hs
