#include <cstdlib>

#include "common/config/config.h"

namespace hs {

std::string config_path(const std::string& flag) {
    if (!flag.empty()) return flag;
    for (const char* var : {"HS_CONFIG", "HEADSCALE_CONFIG"})
        if (const char* v = std::getenv(var); v && *v) return v;
    return kDefaultConfigPath;
}

}  // namespace hs
