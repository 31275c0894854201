#include "tools/hs-control/fault_hook.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "common/base/fault.h"

namespace hs::control {
namespace {

std::string g_point;
long g_nth = 1;
std::atomic<long> g_hits{0};

void on_point(std::string_view name) {
    if (name != g_point) return;
    if (g_hits.fetch_add(1) + 1 < g_nth) return;
    // SIGKILL, not exit: no destructor, no rollback, no flush runs, as when the machine dies.
    ::kill(::getpid(), SIGKILL);
}

}  // namespace

void install_fault_hook_from_env() {
    const char* v = std::getenv("HS_FAULT_POINT");
    if (!v || !*v) return;
    std::string s = v;
    if (const auto at = s.find('@'); at != std::string::npos) {
        const auto n = s.substr(at + 1);
        char* end = nullptr;
        g_nth = std::strtol(n.c_str(), &end, 10);
        if (n.empty() || *end || g_nth < 1) throw std::invalid_argument("HS_FAULT_POINT: bad count in '" + s + "'");
        s.resize(at);
    }
    if (s.empty()) throw std::invalid_argument("HS_FAULT_POINT: no point name in '" + std::string(v) + "'");
    g_point = s;
    fault::hook = on_point;
}

}  // namespace hs::control
