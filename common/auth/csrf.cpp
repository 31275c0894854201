#include "common/auth/csrf.h"

#include <sodium.h>

#include <stdexcept>

#include "common/base/base64url.h"

namespace hs::auth {
namespace {

std::string mac_input(std::string_view auth_id, std::string_view cookie) {
    // Length-prefixed, so no ID/cookie pair can be cut differently into the same bytes.
    return std::to_string(auth_id.size()) + ":" + std::string(auth_id) + std::string(cookie);
}

}  // namespace

CsrfKeys::CsrfKeys() : key_(crypto_auth_KEYBYTES, '\0') {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialize");
    crypto_auth_keygen(reinterpret_cast<unsigned char*>(key_.data()));
}

CsrfKeys::CsrfKeys(std::string_view key) : key_(key) {
    if (key_.size() != crypto_auth_KEYBYTES) throw std::invalid_argument("CSRF key must be 32 bytes");
}

std::string CsrfKeys::new_cookie() {
    std::string b(32, '\0');
    randombytes_buf(b.data(), b.size());
    return base64url_encode(b);
}

std::string CsrfKeys::token(std::string_view auth_id, std::string_view cookie) const {
    const auto in = mac_input(auth_id, cookie);
    std::string mac(crypto_auth_BYTES, '\0');
    crypto_auth(reinterpret_cast<unsigned char*>(mac.data()), reinterpret_cast<const unsigned char*>(in.data()),
                in.size(), reinterpret_cast<const unsigned char*>(key_.data()));
    return base64url_encode(mac);
}

bool CsrfKeys::check(std::string_view auth_id, std::string_view cookie, std::string_view token) const {
    if (cookie.empty() || token.empty()) return false;
    std::string mac;
    try {
        mac = base64url_decode(token);
    } catch (const std::invalid_argument&) {
        return false;
    }
    if (mac.size() != crypto_auth_BYTES) return false;
    const auto in = mac_input(auth_id, cookie);
    return crypto_auth_verify(reinterpret_cast<const unsigned char*>(mac.data()),
                              reinterpret_cast<const unsigned char*>(in.data()), in.size(),
                              reinterpret_cast<const unsigned char*>(key_.data())) == 0;
}

}  // namespace hs::auth
