// Secrets kept in files of their own (oidc.client_secret_path, database.postgres.pass_path,
// webhooks' secret_path), read the same way everywhere, as headscale reads client_secret_path.
#pragma once

#include <string>

namespace hs {

// PATH with its environment variables ($NAME or ${NAME}) replaced by their values, an unset one
// by nothing: under systemd's LoadCredential= a path is written ${CREDENTIALS_DIRECTORY}/name.
// Throws std::runtime_error "KEY: unclosed ${ in PATH".
std::string expand_env_path(const std::string& key, const std::string& path);

// The secret in the file PATH names (expanded as above), without the whitespace around it (the
// newline an editor or `echo` leaves). A file that cannot be read, holds more than 64 KiB or
// holds nothing else than whitespace throws FileError "KEY PATH: reason".
std::string read_secret_file(const std::string& key, const std::string& path);

}  // namespace hs
