#include "common/base/secret_key.h"

#include <sodium.h>

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
    if (text.size() != kind.size() + kPrefixLen + 1 + kSecretHexLen || text.substr(0, kind.size()) != kind) return std::nullopt;
    if (text[kind.size() + kPrefixLen] != '-') return std::nullopt;
    return SecretKey{std::string(text.substr(kind.size(), kPrefixLen)), std::string(text.substr(kind.size() + kPrefixLen + 1))};
}

std::vector<std::uint8_t> secret_hash(std::string_view s) {
    std::vector<std::uint8_t> out(crypto_hash_sha256_BYTES);
    crypto_hash_sha256(out.data(), reinterpret_cast<const unsigned char*>(s.data()), s.size());
    return out;
}

bool secret_matches(const std::vector<std::uint8_t>& stored, std::string_view secret) {
    const auto given = secret_hash(secret);
    return stored.size() == given.size() && sodium_memcmp(stored.data(), given.data(), given.size()) == 0;
}

}  // namespace hs
