#include "common/base/keys.h"

#include <sodium.h>

#include <nlohmann/json.hpp>

namespace hs {
namespace {

void ensure_sodium() {
    static const bool ok = sodium_init() >= 0;
    if (!ok) throw KeyError("libsodium failed to initialise");
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string_view trim(std::string_view s) {
    const auto ws = " \t\r\n";
    const auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return {};
    const auto e = s.find_last_not_of(ws);
    return s.substr(b, e - b + 1);
}

}  // namespace

std::string_view public_prefix(KeyType type) {
    switch (type) {
        case KeyType::Machine:
        case KeyType::Noise: return kMachinePrefix;
        case KeyType::Node:
        case KeyType::Derp: return kNodePrefix;
        case KeyType::Disco: return kDiscoPrefix;
    }
    return kNodePrefix;
}

KeyType parse_key_type(std::string_view name) {
    if (name == "machine") return KeyType::Machine;
    if (name == "node") return KeyType::Node;
    if (name == "disco") return KeyType::Disco;
    if (name == "derp") return KeyType::Derp;
    if (name == "noise") return KeyType::Noise;
    throw KeyError("unknown key type \"" + std::string(name) + "\": expected machine, node, disco, derp or noise");
}

std::string to_hex(const Key32& key) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(64);
    for (auto b : key) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 15]);
    }
    return out;
}

Key32 from_hex(std::string_view hex, std::string_view what) {
    if (hex.size() != 64) {
        throw KeyError(std::string(what) + ": expected 64 hex characters, got " + std::to_string(hex.size()));
    }
    Key32 out{};
    for (std::size_t i = 0; i < 32; ++i) {
        const int hi = hex_value(hex[2 * i]);
        const int lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            const std::size_t bad = hi < 0 ? 2 * i : 2 * i + 1;
            throw KeyError(std::string(what) + ": expected hex digits, found a non-hex character at position " +
                           std::to_string(bad + 1));
        }
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return out;
}

std::string key_text(std::string_view prefix, const Key32& key) { return std::string(prefix) + to_hex(key); }

Key32 parse_key_text(std::string_view text, std::string_view prefix) {
    const std::string expected = "expected \"" + std::string(prefix) + "\" followed by 64 hex characters";
    if (text.substr(0, prefix.size()) != prefix) {
        const auto colon = text.find(':');
        if (colon != std::string_view::npos && colon < 16 && text.size() < 200) {
            throw KeyError(expected + ", got prefix \"" + std::string(text.substr(0, colon + 1)) + "\"");
        }
        throw KeyError(expected + ", got no \"" + std::string(prefix) + "\" prefix");
    }
    return from_hex(text.substr(prefix.size()), expected);
}

bool PublicKey::is_zero() const {
    for (auto b : bytes)
        if (b != 0) return false;
    return true;
}

PrivateKey PrivateKey::generate() {
    ensure_sodium();
    PrivateKey k;
    randombytes_buf(k.bytes.data(), k.bytes.size());
    k.bytes[0] &= 248;
    k.bytes[31] = static_cast<std::uint8_t>((k.bytes[31] & 127) | 64);
    return k;
}

PublicKey PrivateKey::public_key() const {
    ensure_sodium();
    PublicKey pub;
    crypto_scalarmult_curve25519_base(pub.bytes.data(), bytes.data());
    return pub;
}

Key32 x25519(const Key32& scalar, const Key32& point) {
    ensure_sodium();
    Key32 out{};
    if (crypto_scalarmult_curve25519(out.data(), scalar.data(), point.data()) != 0) {
        throw KeyError("X25519 produced an all-zero shared secret (low-order public key)");
    }
    return out;
}

PrivateKey parse_private_key_file(std::string_view contents) {
    const auto text = trim(contents);
    if (text.empty()) throw KeyError("empty input: expected a private key \"privkey:<64 hex>\"");
    if (text.front() == '{') {
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception&) {
            throw KeyError(
                "input starts with '{' but is not valid JSON (expected derper's key file {\"PrivateKey\": "
                "\"privkey:...\"})");
        }
        if (!j.is_object() || !j.contains("PrivateKey") || !j["PrivateKey"].is_string()) {
            throw KeyError("JSON key file has no string field \"PrivateKey\"");
        }
        return PrivateKey::parse(j["PrivateKey"].get<std::string>());
    }
    return PrivateKey::parse(text);
}

}  // namespace hs
