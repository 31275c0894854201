// Server key files: created on first use, never replaced afterwards.
#pragma once

#include <optional>
#include <string>

#include "common/base/keys.h"

namespace hs {

// Reads the private key in `path` (any form parse_private_key_file accepts). When the file
// does not exist, generates a key and writes it as "privkey:<hex>\n" with mode 0600 (missing
// directories are created 0700, as the database's are).
// `created` (optional) tells which happened. Throws std::runtime_error naming the file, also
// when group or others may access an existing key (check_private_file).
PrivateKey load_or_create_key_file(const std::string& path, bool* created = nullptr);
// The key in an existing `path`, with the same checks; nullopt when there is no such file.
std::optional<PrivateKey> load_key_file_if_present(const std::string& path);

}  // namespace hs
