// Logging for every binary: spdlog to stderr, human text or one JSON object per line.
#pragma once

#include <string>

#include <spdlog/spdlog.h>

namespace hs {

// Configures the default spdlog logger to write to stderr.
// level: trace, debug, info, warn, error, off (headscale's "warning", "fatal" and "panic" are
// accepted too). format: "text" or "json". Throws std::invalid_argument naming the valid values.
void setup_logging(const std::string& level, const std::string& format);

}  // namespace hs
