// hs-keygen subcommands: each adds itself to the app and runs when chosen.
#pragma once

#include <CLI/CLI.hpp>

namespace hs::keygen {

// Returns a callable that runs the subcommand and yields the exit code.
std::function<int()> add_private(CLI::App& app);
std::function<int()> add_public(CLI::App& app);

}  // namespace hs::keygen
