// Named crash points for the crash test (tests/bench/crash.sh). A point marks a place between
// two steps whose order matters for crash safety (a pre-auth key claimed, its node not yet
// inserted). In every shipped binary the hook stays null: a point is one load and a branch,
// nothing reads the environment and nothing can make the process stop there. Only the test
// binary hs-control-fault (tools/hs-control/fault_hook.cpp, built for the tests, never
// installed or packaged) sets the hook, from HS_FAULT_POINT read once at start.
#pragma once

#include <string_view>

namespace hs::fault {

using Hook = void (*)(std::string_view point);

// Set once, before any thread starts; never in production binaries.
inline Hook hook = nullptr;

// Calls the hook, if any, with the point's name; returns when there is none.
inline void point(std::string_view name) {
    if (hook) hook(name);
}

}  // namespace hs::fault
