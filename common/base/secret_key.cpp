#include "common/base/secret_key.h"

#include <crypt.h>
#include <sodium.h>

#include <memory>

#include "common/base/random.h"

namespace hs {
namespace {
constexpr std::size_t kPrefixLen = 12;
constexpr std::size_t kSecretHexLen = 64;
}  // namespace

SecretKey new_secret_key() { return {random_token(kPrefixLen), random_token(kSecretHexLen, kHexDigits)}; }

std::string secret_key_text(std::string_view kind, const SecretKey& k) {
    return std::string(kind) + k.prefix + "-" + k.secret;
}

std::optional<SecretKey> parse_secret_key(std::string_view kind, std::string_view text) {
    if (text.size() != kind.size() + kPrefixLen + 1 + kSecretHexLen || text.substr(0, kind.size()) != kind)
        return std::nullopt;
    if (text[kind.size() + kPrefixLen] != '-') return std::nullopt;
    return SecretKey{std::string(text.substr(kind.size(), kPrefixLen)),
                     std::string(text.substr(kind.size() + kPrefixLen + 1))};
}

std::vector<std::uint8_t> secret_hash(std::string_view s) {
    std::vector<std::uint8_t> out(crypto_hash_sha256_BYTES);
    crypto_hash_sha256(out.data(), reinterpret_cast<const unsigned char*>(s.data()), s.size());
    return out;
}

bool is_bcrypt_hash(const std::vector<std::uint8_t>& stored) {
    // "$2a$", "$2b$" or "$2y$" then a two-digit cost: what Go's bcrypt and libxcrypt write.
    return stored.size() == 60 && stored[0] == '$' && stored[1] == '2' && stored[3] == '$';
}

namespace {
// bcrypt re-hashes `secret` with the salt and cost kept in `stored`; equal output = match.
// libxcrypt rather than a bcrypt of our own (crypt_r is thread-safe with its own buffer).
bool bcrypt_matches(const std::vector<std::uint8_t>& stored, std::string_view secret) {
    const std::string setting(stored.begin(), stored.end());
    const std::string pw(secret);
    if (pw.find('\0') != std::string::npos) return false;
    auto data = std::make_unique<crypt_data>();
    const char* out = crypt_r(pw.c_str(), setting.c_str(), data.get());
    // On failure crypt_r returns a string starting with '*', never equal to a bcrypt hash.
    if (!out || std::string_view(out).size() != setting.size()) return false;
    return sodium_memcmp(out, setting.data(), setting.size()) == 0;
}
}  // namespace

bool secret_matches(const std::vector<std::uint8_t>& stored, std::string_view secret) {
    if (is_bcrypt_hash(stored)) return bcrypt_matches(stored, secret);
    const auto given = secret_hash(secret);
    return stored.size() == given.size() && sodium_memcmp(stored.data(), given.data(), given.size()) == 0;
}

}  // namespace hs
