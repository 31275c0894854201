// hs-keygen: key generation and conversion, in the spirit of `wg genkey | wg pubkey`.
#include <cstdio>

#include "common/base/cli.h"
#include "tools/hs-keygen/commands.h"

int main(int argc, char** argv) {
    CLI::App app{
        "Generate hs and Tailscale keys and derive their public halves.\n\n"
        "  hs-keygen private | tee key | hs-keygen public\n",
        "hs-keygen"};
    hs::CommonFlags flags;
    hs::add_common_flags(app, flags);
    app.require_subcommand(1);
    const auto run_private = hs::keygen::add_private(app);
    const auto run_public = hs::keygen::add_public(app);
    return hs::run_main(app, flags, argc, argv, [&] {
        if (app.got_subcommand("private")) return run_private();
        return run_public();
    });
}
