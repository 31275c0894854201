// base64url without padding (RFC 4648 §5), as JOSE (RFC 7515 §2) writes it for ACME and OpenID
// Connect alike.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace hs {

std::string base64url_encode(std::string_view bytes);
// Throws std::invalid_argument on a character outside the alphabet or a truncated tail.
std::string base64url_decode(std::string_view text);

}  // namespace hs
