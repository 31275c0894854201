// hs-control --check: what would stop hs-control at start, found without changing anything on
// the machine. No database is created or migrated, no key file written, no lock taken, no port
// bound: it runs beside a serving instance, and on a configuration not yet deployed.
#pragma once

#include <string>

#include "common/config/config.h"

namespace hs::control {

// Checks the key files, the TLS files, the database, the DERP map and the ACL policy in force.
// All good: one line on stdout saying what was checked and what start-up will create or migrate,
// and 0. Otherwise throws (std::runtime_error, DbError) with the first problem, or returns 1
// after printing the policy's problems with their lines and columns on stderr.
int check_config(const Config& cfg, const std::string& config_path);

}  // namespace hs::control
