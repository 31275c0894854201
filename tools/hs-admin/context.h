// What every hs-admin command shares: the global flags, the config they name and the database
// it points at. The config and database are opened on first use, so `version` and `--help`
// work on a machine with neither.
#pragma once

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "common/config.h"
#include "common/db.h"
#include "tools/hs-admin/output.h"

namespace hs::admin {

inline constexpr const char* kDefaultConfig = "/etc/hs/config.yaml";

class Context {
public:
    std::string config_flag;  // -c; empty = $HS_CONFIG, $HEADSCALE_CONFIG, then kDefaultConfig
    std::string output = "table";
    bool force = false;  // headscale's --force; hs-admin never prompts, so it changes nothing

    Format format() const { return parse_format(output); }
    const Config& config();
    Db& db();

private:
    std::optional<Config> config_;
    std::unique_ptr<Db> db_;
};

// The config file to read: the flag, else the environment, else the default.
std::string config_path(const std::string& flag);

// Each verb is a leaf subcommand; after parsing, main runs the action of the one chosen.
using Action = std::function<int()>;
using Actions = std::map<const CLI::App*, Action>;

// A noun (users, nodes, ...) needs exactly one verb; both take aliases so headscale's spellings,
// old and new, keep working in scripts.
CLI::App* add_noun(CLI::App& app, const std::string& name, const std::string& help,
                   std::initializer_list<const char*> aliases = {});
CLI::App* add_verb(CLI::App& noun, const std::string& name, const std::string& help,
                   std::initializer_list<const char*> aliases = {});

}  // namespace hs::admin
