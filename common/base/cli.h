// What every hs binary shares on its command line: --version, --log-level, --log-format, and
// one way to turn an exception into a one-line error and an exit code.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace hs {

struct CommonFlags {
    std::string log_level = "info";
    std::string log_format = "text";
};

// Adds --version (prints "<tool> <version>"), --log-level and --log-format to `app`.
void add_common_flags(CLI::App& app, CommonFlags& flags);

// A CLI11 check that accepts what parse_duration accepts and reports its error otherwise.
CLI::Validator duration_validator();

// The items of a comma-separated flag value (derper's -mesh-with, -bootstrap-dns-names),
// empty items skipped: "a,,b," gives {"a", "b"}.
std::vector<std::string> split_comma_list(const std::string& list);

// Parses argv, sets up logging, runs `body`; returns the process exit code.
// Usage errors exit 2; any exception from body prints "<tool>: <what()>" on stderr and exits 1.
int run_main(CLI::App& app, CommonFlags& flags, int argc, char** argv, const std::function<int()>& body);

}  // namespace hs
