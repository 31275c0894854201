#include "common/base/base64url.h"

#include <sodium.h>

namespace hs {

std::string base64url_encode(std::string_view bytes) {
    if (bytes.empty()) return {};
    const auto variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    std::string out(sodium_base64_encoded_len(bytes.size(), variant), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                      variant);
    out.resize(std::char_traits<char>::length(out.c_str()));
    return out;
}

std::string base64url_decode(std::string_view text) {
    std::string out(text.size() * 3 / 4 + 3, '\0');
    std::size_t len = 0;
    const char* end = nullptr;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr,
                          &len, &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != text.data() + text.size())
        throw std::invalid_argument("malformed base64url");
    out.resize(len);
    return out;
}

}  // namespace hs
