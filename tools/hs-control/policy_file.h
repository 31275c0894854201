// policy.mode file: the policy is policy.path, read at start, again when the file changes
// (checked every second) and on SIGHUP. A file that fails to read or compile leaves the last
// good policy in force; the problems are logged and counted.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/net/asio.h"
#include "tools/hs-control/tailnet.h"

namespace hs::control {

class PolicyFile {
public:
    PolicyFile(boost::asio::io_context& io, std::string path, Tailnet& tailnet);
    // At start: the policy in force before the first client connects. Throws when the file
    // cannot be read or is refused: starting with no policy would open the tailnet.
    void load_initial();
    // Watches the file's modification time and size.
    void start();
    // Reads and applies the file now (SIGHUP, or a change seen by the watch).
    void reload();

private:
    void watch();
    std::optional<std::pair<std::int64_t, std::int64_t>> stamp() const;

    std::string path_;
    Tailnet& tailnet_;
    std::unique_ptr<boost::asio::steady_timer> timer_;
    std::optional<std::pair<std::int64_t, std::int64_t>> seen_;  // mtime (ns), size
};

}  // namespace hs::control
