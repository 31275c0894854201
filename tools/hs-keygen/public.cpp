// hs-keygen public: private key on stdin (or a key file) -> public key with the type's prefix.
#include <cstdio>
#include <memory>

#include "common/base/files.h"
#include "common/base/keys.h"
#include "tools/hs-keygen/commands.h"

namespace hs::keygen {

namespace {
struct PublicOpts {
    std::string type = "machine";
    std::string in;
};
}  // namespace

std::function<int()> add_public(CLI::App& app) {
    auto o = std::make_shared<PublicOpts>();
    auto* cmd = app.add_subcommand("public",
                                   "Read a private key on stdin and print its public key.\n"
                                   "Accepts \"privkey:<hex>\" (hs-keygen, headscale's key files) and "
                                   "derper's JSON key file.");
    cmd->add_option("-t,--type", o->type, "machine/noise -> mkey:, node/derp -> nodekey:, disco -> discokey:")
        ->check(CLI::IsMember({"machine", "node", "disco", "derp", "noise"}))
        ->capture_default_str();
    cmd->add_option("--in", o->in, "Read the private key from FILE instead of stdin");
    return [o] {
        const auto type = parse_key_type(o->type);
        const std::string input = o->in.empty() ? read_stdin(64 * 1024) : read_file(o->in);
        const auto key = parse_private_key_file(input);
        const auto text = key_text(public_prefix(type), key.public_key().bytes) + "\n";
        std::fwrite(text.data(), 1, text.size(), stdout);
        return std::fflush(stdout) == 0 ? 0 : 1;
    };
}

}  // namespace hs::keygen
