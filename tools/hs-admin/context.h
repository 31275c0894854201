// What every hs-admin command shares: the global flags, the config they name and the database
// it points at, or the remote hs-control named by --remote. The config and database are opened
// on first use, so `version`, `--help` and remote calls work on a machine with neither.
#pragma once

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "common/admin/ops.h"
#include "common/config/config.h"
#include "common/store/db.h"
#include "tools/hs-admin/output.h"

namespace hs::admin {

inline constexpr const char* kDefaultConfig = kDefaultConfigPath;

class Context {
public:
    std::string config_flag;  // -c; empty = $HS_CONFIG, $HEADSCALE_CONFIG, then kDefaultConfig
    std::string output = "table";
    bool force = false;   // headscale's --force: never prompts; lets import headscale replace a tailnet
    std::string remote;   // --remote URL of an hs-control; empty = work on the local file
    std::string api_key;  // --api-key (or $HS_API_KEY) for --remote

    Format format() const { return parse_format(output); }
    const Config& config();
    Db& db();
    // Runs an operation of common/admin/ops.h here or on the remote server; same result.
    json call(const std::string& op, const json& params);
    // Runs a list operation and prints its items: streamed as they are made when the op runs
    // here and the format allows (JSON, JSON lines), else collected and printed by print_list.
    void list(const std::string& op, const json& params, const Columns& columns);

private:
    // The environment for an operation on the local file, with the audit trail's actor.
    Env local_env(std::function<void(json&&)> emit = {});

    std::optional<Config> config_;
    std::unique_ptr<Db> db_;
};

// The audit trail's actor for changes made on the file: the unix account running hs-admin
// (by uid, so `sudo -u` shows who the change ran as).
std::string unix_actor();

// The remote form of call(): the operation's REST route on `url` with the bearer key. Throws
// with the server's error message, so failures read the same as local ones.
json remote_call(const std::string& url, const std::string& api_key, const std::string& op, const json& params);

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
