// The crash points' hook for hs-control-fault, the test build of hs-control (common/base/fault.h).
#pragma once

namespace hs::control {

// Reads HS_FAULT_POINT=NAME[@N] once: the Nth time (default 1) the point NAME is reached, the
// process SIGKILLs itself there, as a power cut would stop it. Without the variable nothing
// is installed. Throws std::invalid_argument on a malformed value.
void install_fault_hook_from_env();

}  // namespace hs::control
