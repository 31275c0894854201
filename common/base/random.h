// Random tokens for keys and request IDs, from libsodium's CSPRNG.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hs {

inline constexpr std::string_view kAlnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
inline constexpr std::string_view kHexDigits = "0123456789abcdef";

// n characters drawn uniformly from `alphabet`.
std::string random_token(std::size_t n, std::string_view alphabet = kAlnum);

}  // namespace hs
