// config.yaml parsing: any bytes either load or raise ConfigError; nothing else escapes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const auto lc = hs::load_config_text(text, "fuzz.yaml", "/tmp", false);
        // A config that loads must have the settings the server relies on.
        if (lc.config.server_url.empty() || lc.config.listen_addr.empty()) __builtin_trap();
    } catch (const hs::ConfigError&) {}
    return 0;
}
