#include "common/base/random.h"

#include <sodium.h>

#include <stdexcept>

namespace hs {

std::string random_token(std::size_t n, std::string_view alphabet) {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
    std::string out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        out.push_back(alphabet[randombytes_uniform(static_cast<std::uint32_t>(alphabet.size()))]);
    return out;
}

}  // namespace hs
