// One-time codes for two-step sign-in: RFC 6238 TOTP over RFC 4226 HOTP with HMAC-SHA-1, 30 s
// steps and 6 digits, the parameters every authenticator app assumes when an otpauth:// URI
// names none. Bytes in, codes out; the caller keeps the clock and the last step used.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hs::auth {

inline constexpr int kTotpStepSeconds = 30;  // RFC 6238 §4.1 X, the default
inline constexpr int kTotpDigits = 6;

// RFC 4648 §6 base32 without padding (upper case), as otpauth:// secrets are written.
std::string base32_encode(std::string_view bytes);
// Accepts lower case, spaces and padding; nullopt on any other character.
std::optional<std::string> base32_decode(std::string_view text);

// RFC 4226 §5.3: the `digits`-digit code for `counter` under `key`, zero-padded.
std::string hotp(std::string_view key, std::uint64_t counter, int digits = kTotpDigits);
// RFC 6238 §4.2: the step number of Unix time `unix_seconds`.
std::uint64_t totp_step(std::int64_t unix_seconds);

// A submitted code checked against the steps `now` and one either side (RFC 6238 §5.2's
// allowance for clock drift). Returns the step it matched, or nullopt when none did or the
// step is not after `last_used_step` (a code is accepted once: §5.2, "MUST NOT accept the
// second attempt of the same OTP").
std::optional<std::uint64_t> totp_match(std::string_view key, std::string_view code, std::int64_t unix_seconds,
                                        std::uint64_t last_used_step);

// The otpauth:// URI (Google Authenticator's Key-Uri-Format) authenticator apps read from a QR
// code: otpauth://totp/<issuer>:<account>?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30
std::string otpauth_uri(const std::string& issuer, const std::string& account, std::string_view key);

}  // namespace hs::auth
