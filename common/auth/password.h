// Passwords of built-in accounts (auth.local in the config): the policy a new password must
// meet, and argon2id hashing through libsodium's crypto_pwhash_str (the PHC string format, so a
// stored hash carries its own parameters and old hashes verify after the costs change).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace hs::auth {

// Longest password looked at: anything longer is refused before it is hashed, so a 1 MB
// "password" costs a length check and not an argon2 pass over 1 MB. 256 bytes hold any
// passphrase a person types (NIST SP 800-63B §5.1.1.2 asks for at least 64 characters).
inline constexpr std::size_t kMaxPasswordBytes = 256;

struct PasswordPolicy {
    std::size_t min_length = 12;  // auth.local.password_min_length
    int min_classes = 2;          // of lower case, upper case, digits, others
};

// Why `password` may not be used by `user_name`, or nullopt when it may: too short or too long,
// too few kinds of character, on the common-password list (also with digits or symbols added at
// either end), or containing the user's own name.
std::optional<std::string> password_refusal(std::string_view password, std::string_view user_name,
                                            const PasswordPolicy& policy);

// Login names that are guessed first (admin, root, ...): refused for accounts that can sign in
// with a password.
bool reserved_login_name(std::string_view name);

// argon2id costs (auth.local.opslimit / memlimit_mib); defaults measured in docs/security.md.
struct HashCost {
    unsigned long long opslimit = 3;
    std::size_t memlimit = std::size_t{64} << 20;
};

// The PHC string ($argon2id$v=19$m=...,t=...,p=1$salt$hash). Throws std::runtime_error when
// libsodium cannot allocate the memory.
std::string hash_password(std::string_view password, const HashCost& cost);
// True when `password` matches `stored`; false for any other stored text. Passwords over
// kMaxPasswordBytes never match and are not hashed.
bool verify_password(std::string_view password, const std::string& stored);

// A fresh recovery code, "xxxxx-xxxxx" from a 31-character alphabet (49 bits), and the hash kept
// for it: the codes are random, so a fast unkeyed hash (BLAKE2b) is enough.
std::string new_recovery_code();
std::string recovery_code_hash(std::string_view code);

}  // namespace hs::auth
