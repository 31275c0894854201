// hs-derpmap: make, change, convert, merge, check and probe DERP maps, as filters that chain:
//   hs-derpmap new ... | hs-derpmap add-node ... | hs-derpmap check
#include "common/base/cli.h"
#include "tools/hs-derpmap/commands.h"

int main(int argc, char** argv) {
    CLI::App app{
        "Generate, convert, merge, validate and probe DERP maps (headscale YAML or tailcfg JSON).\n\n"
        "  hs-derpmap new --region-id 901 --region-code home --node name=d1,host=derp.example.com \\\n"
        "    | hs-derpmap check\n",
        "hs-derpmap"};
    hs::CommonFlags flags;
    hs::add_common_flags(app, flags);
    app.require_subcommand(1);
    const std::vector<std::pair<std::string, std::function<int()>>> cmds{
        {"new", hs::derpmap::add_new(app)},
        {"add-node", hs::derpmap::add_add_node(app)},
        {"remove-region", hs::derpmap::add_remove_region(app)},
        {"remove-node", hs::derpmap::add_remove_node(app)},
        {"convert", hs::derpmap::add_convert(app)},
        {"merge", hs::derpmap::add_merge(app)},
        {"check", hs::derpmap::add_check(app)},
        {"probe", hs::derpmap::add_probe(app)},
    };
    return hs::run_main(app, flags, argc, argv, [&] {
        for (const auto& [name, run] : cmds)
            if (app.got_subcommand(name)) return run();
        return 2;
    });
}
