// Keys of the form "<kind prefix><12-char public prefix>-<64 hex secret>" (pre-auth keys
// "hskey-auth-", API keys "hskey-api-"). The public prefix finds the row; only SHA-256 of the
// secret is stored. The secret carries 256 random bits, so a fast hash is enough. Keys
// imported from headscale keep headscale's bcrypt hash ("$2a$10$..."), verified by
// libxcrypt's crypt_r.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hs {

struct SecretKey {
    std::string prefix;  // 12 characters, stored in clear
    std::string secret;  // 64 hex digits, never stored
};

// A fresh random key.
SecretKey new_secret_key();
// "<kind><prefix>-<secret>".
std::string secret_key_text(std::string_view kind, const SecretKey& k);
// Splits the full text; nullopt when it is not "<kind><12>-<64 hex>".
std::optional<SecretKey> parse_secret_key(std::string_view kind, std::string_view text);
std::vector<std::uint8_t> secret_hash(std::string_view secret);
// Whether `secret` is the one `stored` was made from: SHA-256 (hs's own keys) or a bcrypt
// string (headscale's), told apart by bcrypt's "$2" prefix. Constant-time comparison.
bool secret_matches(const std::vector<std::uint8_t>& stored, std::string_view secret);
// True when `stored` is a bcrypt string, i.e. the key came from headscale.
bool is_bcrypt_hash(const std::vector<std::uint8_t>& stored);

}  // namespace hs
