#include "tools/hs-admin/context.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "common/admin/ops.h"
#include "common/config/database.h"

namespace hs::admin {

const Config& Context::config() {
    if (config_) return *config_;
    const auto path = hs::config_path(config_flag);
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        throw ConfigError(path + ": config file not found (give one with -c FILE or $HS_CONFIG)");
    auto loaded = load_config_file(path);
    for (const auto& w : loaded.warnings) spdlog::warn("{}", w);
    config_ = std::move(loaded.config);
    return *config_;
}

Db& Context::db() {
    if (db_) return *db_;
    const auto& c = config();
    db_ = std::make_unique<Db>(database_name(c), database_options(c));
    return *db_;
}

std::string unix_actor() {
    const auto uid = ::geteuid();
    if (const auto* pw = ::getpwuid(uid)) return std::string("unix:") + pw->pw_name;
    return "unix:uid " + std::to_string(uid);
}

Env Context::local_env(std::function<void(json&&)> emit) {
    Env env{db(), config(), Clock::now(), std::move(emit)};
    env.actor = unix_actor();
    env.source = "local";
    return env;
}

json Context::call(const std::string& op, const json& params) {
    if (!remote.empty()) return remote_call(remote, api_key, op, params);
    auto env = local_env();
    return run_op(op, params, env);
}

void Context::list(const std::string& op, const json& params, const Columns& columns) {
    const auto f = format();
    // Streaming keeps the read open while stdout drains (a paused pager can hold it for
    // minutes): without WAL that read would block hs-control's writes, so collect first.
    if (!remote.empty() || (f != Format::pretty_json && f != Format::json_lines) || !config().database_wal)
        return print_list(f, call(op, params), columns);
    JsonListWriter w(f);
    auto env = local_env([&w](json&& item) { w.add(item); });
    // An op that does not stream returns its items instead.
    for (const auto& item : run_op(op, params, env)) w.add(item);
    w.finish();
}

CLI::App* add_noun(CLI::App& app, const std::string& name, const std::string& help,
                   std::initializer_list<const char*> aliases) {
    auto* cmd = add_verb(app, name, help, aliases);
    cmd->require_subcommand(1);
    return cmd;
}

CLI::App* add_verb(CLI::App& noun, const std::string& name, const std::string& help,
                   std::initializer_list<const char*> aliases) {
    auto* cmd = noun.add_subcommand(name, help);
    for (const char* a : aliases) cmd->alias(a);
    return cmd;
}

}  // namespace hs::admin
