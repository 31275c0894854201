// Curve25519 keys and their Tailscale text forms ("privkey:", "nodekey:", "mkey:", "discokey:").
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace hs {

using Key32 = std::array<std::uint8_t, 32>;

// Thrown by every parser in this header; what() is one line that names what was expected.
struct KeyError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Which public form a private key stands for. The private text form is "privkey:" for all of
// them (Tailscale shares the prefix between machine, node and server keys).
enum class KeyType { Machine, Node, Disco, Derp, Noise };

// The public text prefix for a key type: machine and noise keys are "mkey:", node and DERP
// server keys are "nodekey:", disco keys are "discokey:".
std::string_view public_prefix(KeyType type);
// Parses "machine", "node", "disco", "derp", "noise"; throws KeyError naming the choices.
KeyType parse_key_type(std::string_view name);

inline constexpr std::string_view kPrivatePrefix = "privkey:";
inline constexpr std::string_view kNodePrefix = "nodekey:";
inline constexpr std::string_view kMachinePrefix = "mkey:";
inline constexpr std::string_view kDiscoPrefix = "discokey:";

// Lowercase hex of 32 bytes, and its inverse (either case accepted, exactly 64 characters).
std::string to_hex(const Key32& key);
Key32 from_hex(std::string_view hex, std::string_view what);

// prefix + lowercase hex.
std::string key_text(std::string_view prefix, const Key32& key);
// Accepts exactly prefix + 64 hex characters. The error names the expected prefix and says
// whether the prefix, the length or a character was wrong.
Key32 parse_key_text(std::string_view text, std::string_view prefix);

struct PublicKey {
    Key32 bytes{};
    bool is_zero() const;
    bool operator==(const PublicKey&) const = default;
    auto operator<=>(const PublicKey&) const = default;
};

struct PrivateKey {
    Key32 bytes{};
    // A fresh random key, clamped the way X25519 expects.
    static PrivateKey generate();
    PublicKey public_key() const;
    std::string text() const { return key_text(kPrivatePrefix, bytes); }
    static PrivateKey parse(std::string_view text) { return {parse_key_text(text, kPrivatePrefix)}; }
};

// X25519(scalar, point). Throws KeyError when the result is all zeros (a low-order point).
Key32 x25519(const Key32& scalar, const Key32& point);

// Reads a private key from the contents of a key file or stdin: a bare "privkey:<hex>" (what
// hs-keygen, headscale's noise_private.key and derp_server_private.key hold) or derper's JSON
// key file {"PrivateKey": "privkey:<hex>"}. Surrounding whitespace is ignored.
PrivateKey parse_private_key_file(std::string_view contents);

}  // namespace hs
