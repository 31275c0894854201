// hs-keygen private: a new private key on stdout or in a 0600 file.
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/base/files.h"
#include "common/base/keys.h"
#include "tools/hs-keygen/commands.h"

namespace hs::keygen {

namespace {
struct PrivateOpts {
    std::string type = "machine";
    std::string out;
    std::string format = "text";
    bool force = false;
};
}  // namespace

std::function<int()> add_private(CLI::App& app) {
    auto o = std::make_shared<PrivateOpts>();
    auto* cmd = app.add_subcommand("private", "Print a new private key (\"privkey:<64 hex>\")");
    cmd->add_option("-t,--type", o->type,
                    "machine, node, disco, derp or noise (the same private form; "
                    "'public' uses the type to pick the prefix)")
        ->check(CLI::IsMember({"machine", "node", "disco", "derp", "noise"}))
        ->capture_default_str();
    cmd->add_option("--out", o->out,
                    "Write to FILE (mode 0600, atomically; missing directories made 0700) instead of stdout");
    cmd->add_flag("--force", o->force, "Overwrite FILE if it exists");
    cmd->add_option("--format", o->format, "text, or json for derper's key file {\"PrivateKey\": ...}")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    return [o] {
        parse_key_type(o->type);
        const auto key = PrivateKey::generate();
        std::string data = o->format == "json" ? nlohmann::json{{"PrivateKey", key.text()}}.dump() : key.text();
        data += "\n";
        if (o->out.empty()) {
            std::fwrite(data.data(), 1, data.size(), stdout);
            return std::fflush(stdout) == 0 ? 0 : 1;
        }
        make_private_dirs(o->out);  // a user naming a new directory expects it made (0700)
        write_file_atomic(o->out, data, 0600, o->force);
        return 0;
    };
}

}  // namespace hs::keygen
