// Key text and key files: any bytes parse or raise KeyError; whatever parses prints back the same.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/base/keys.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const auto k = hs::parse_private_key_file(text);
        if (hs::PrivateKey::parse(k.text()).bytes != k.bytes) __builtin_trap();
    } catch (const hs::KeyError&) {}
    for (auto prefix : {hs::kNodePrefix, hs::kMachinePrefix, hs::kDiscoPrefix}) {
        try {
            const auto b = hs::parse_key_text(text, prefix);
            std::string lower = text;
            for (auto& ch : lower) ch = static_cast<char>(ch >= 'A' && ch <= 'F' ? ch - 'A' + 'a' : ch);
            if (hs::key_text(prefix, b) != lower) __builtin_trap();
        } catch (const hs::KeyError&) {}
    }
    return 0;
}
