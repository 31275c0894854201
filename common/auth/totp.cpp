#include "common/auth/totp.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <stdexcept>

#include "common/auth/login.h"

namespace hs::auth {
namespace {

constexpr std::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

bool same_digits(std::string_view a, std::string_view b) {
    // Constant time in the content: the code is a secret until it is used.
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

}  // namespace

std::string base32_encode(std::string_view bytes) {
    std::string out;
    std::uint32_t buffer = 0;
    int bits = 0;
    for (unsigned char c : bytes) {
        buffer = (buffer << 8) | c;
        bits += 8;
        while (bits >= 5) {
            out += kBase32[(buffer >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) out += kBase32[(buffer << (5 - bits)) & 31];
    return out;
}

std::optional<std::string> base32_decode(std::string_view text) {
    std::string out;
    std::uint32_t buffer = 0;
    int bits = 0;
    for (char c : text) {
        if (c == ' ' || c == '=' || c == '-') continue;
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        const auto v = kBase32.find(c);
        if (v == std::string_view::npos) return std::nullopt;
        buffer = (buffer << 5) | static_cast<std::uint32_t>(v);
        bits += 5;
        if (bits >= 8) {
            out += static_cast<char>((buffer >> (bits - 8)) & 0xff);
            bits -= 8;
        }
    }
    return out;
}

std::string hotp(std::string_view key, std::uint64_t counter, int digits) {
    std::array<unsigned char, 8> msg{};
    for (int i = 7; i >= 0; --i, counter >>= 8) msg[static_cast<std::size_t>(i)] = counter & 0xff;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), msg.data(), msg.size(), mac, &len) || len < 20)
        throw std::runtime_error("HMAC-SHA-1 failed");
    // RFC 4226 §5.3 dynamic truncation.
    const int offset = mac[len - 1] & 0x0f;
    const std::uint32_t bin = (static_cast<std::uint32_t>(mac[offset] & 0x7f) << 24) |
                              (static_cast<std::uint32_t>(mac[offset + 1]) << 16) |
                              (static_cast<std::uint32_t>(mac[offset + 2]) << 8) | mac[offset + 3];
    std::uint32_t mod = 1;
    for (int i = 0; i < digits; ++i) mod *= 10;
    auto code = std::to_string(bin % mod);
    return std::string(static_cast<std::size_t>(digits) - code.size(), '0') + code;
}

std::uint64_t totp_step(std::int64_t unix_seconds) {
    return unix_seconds < 0 ? 0 : static_cast<std::uint64_t>(unix_seconds) / kTotpStepSeconds;
}

std::optional<std::uint64_t> totp_match(std::string_view key, std::string_view code, std::int64_t unix_seconds,
                                        std::uint64_t last_used_step) {
    if (code.size() != kTotpDigits) return std::nullopt;
    const auto now = totp_step(unix_seconds);
    for (std::uint64_t step = now == 0 ? 0 : now - 1; step <= now + 1; ++step) {
        if (step <= last_used_step && last_used_step != 0) continue;
        if (same_digits(hotp(key, step), code)) return step;
    }
    return std::nullopt;
}

std::string otpauth_uri(const std::string& issuer, const std::string& account, std::string_view key) {
    // form_encode escapes like encodeURIComponent except for spaces, which the label must not hold.
    auto esc = [](const std::string& s) {
        auto e = form_encode({{"x", s}}).substr(2);
        std::string out;
        for (char c : e) out += c == '+' ? std::string("%20") : std::string(1, c);
        return out;
    };
    return "otpauth://totp/" + esc(issuer) + ":" + esc(account) + "?secret=" + base32_encode(key) +
           "&issuer=" + esc(issuer) + "&algorithm=SHA1&digits=6&period=30";
}

}  // namespace hs::auth
