#include "common/auth/password.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>
#include <string>

#include "common/base/random.h"

namespace hs::auth {
namespace {

constexpr std::string_view kCommon[] = {
#include "common/auth/common_passwords.inc"
};

// Names tried first by anyone guessing: the list every scanner starts with.
constexpr std::string_view kReservedNames[] = {"admin",   "administrator", "root",     "test",     "guest",
                                               "user",    "superuser",     "sysadmin", "operator", "demo",
                                               "support", "default",       "tester",   "testuser", "toor"};

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool is_common(const std::string& lowered) {
    return std::find(std::begin(kCommon), std::end(kCommon), lowered) != std::end(kCommon);
}

// "Password123!" and "!!password" are the listed word with decoration: strip non-letters at
// both ends (when letters remain) and look again.
bool common_with_decoration(const std::string& lowered) {
    if (is_common(lowered)) return true;
    const auto b = lowered.find_first_of("abcdefghijklmnopqrstuvwxyz");
    if (b == std::string::npos) return false;
    const auto e = lowered.find_last_of("abcdefghijklmnopqrstuvwxyz");
    return is_common(lowered.substr(b, e - b + 1));
}

int character_classes(std::string_view s) {
    bool lo = false, up = false, digit = false, other = false;
    for (unsigned char c : s) {
        if (std::islower(c)) lo = true;
        else if (std::isupper(c)) up = true;
        else if (std::isdigit(c)) digit = true;
        else other = true;
    }
    return lo + up + digit + other;
}

}  // namespace

std::optional<std::string> password_refusal(std::string_view password, std::string_view user_name,
                                            const PasswordPolicy& policy) {
    if (password.empty()) return "the password is empty";
    if (password.size() > kMaxPasswordBytes)
        return "the password is too long: at most " + std::to_string(kMaxPasswordBytes) + " bytes";
    if (password.size() < policy.min_length)
        return "the password is too short: at least " + std::to_string(policy.min_length) + " characters";
    if (character_classes(password) < policy.min_classes)
        return "the password needs at least " + std::to_string(policy.min_classes) +
               " kinds of character (lower case, upper case, digits, others)";
    const auto lowered = lower(password);
    if (common_with_decoration(lowered)) return "the password is on the list of commonly used passwords";
    if (user_name.size() >= 3 && lowered.find(lower(user_name)) != std::string::npos)
        return "the password contains the user's name";
    return std::nullopt;
}

bool reserved_login_name(std::string_view name) {
    const auto l = lower(name);
    return std::find(std::begin(kReservedNames), std::end(kReservedNames), l) != std::end(kReservedNames);
}

std::string hash_password(std::string_view password, const HashCost& cost) {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialize");
    if (password.size() > kMaxPasswordBytes) throw std::invalid_argument("password too long");
    std::array<char, crypto_pwhash_STRBYTES> out{};
    if (crypto_pwhash_str_alg(out.data(), password.data(), password.size(), cost.opslimit, cost.memlimit,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        throw std::runtime_error("argon2id hashing failed (out of memory for memlimit " +
                                 std::to_string(cost.memlimit >> 20) + " MiB?)");
    return out.data();
}

bool verify_password(std::string_view password, const std::string& stored) {
    if (sodium_init() < 0 || password.size() > kMaxPasswordBytes || stored.rfind("$argon2id$", 0) != 0) return false;
    return crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) == 0;
}

std::string new_recovery_code() {
    // Crockford-like: no 0/O, 1/I/L confusion when read off paper.
    const auto t = random_token(10, "abcdefghjkmnpqrstuvwxyz23456789");
    return t.substr(0, 5) + "-" + t.substr(5);
}

std::string recovery_code_hash(std::string_view code) {
    std::string normalized;
    for (char c : code)
        if (c != '-' && c != ' ') normalized += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::array<unsigned char, 32> h{};
    crypto_generichash(h.data(), h.size(), reinterpret_cast<const unsigned char*>(normalized.data()), normalized.size(),
                       nullptr, 0);
    std::string hex;
    for (auto b : h) {
        hex += "0123456789abcdef"[b >> 4];
        hex += "0123456789abcdef"[b & 15];
    }
    return hex;
}

}  // namespace hs::auth
