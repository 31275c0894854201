// convert: YAML <-> JSON. merge: files and URLs in order (later wins, null removes), or the map
// hs-control would serve from a config.
#include <memory>

#include "common/base/duration.h"
#include "common/config/config.h"
#include "common/config/derpmap.h"
#include "common/net/http_fetch.h"
#include "tools/hs-derpmap/commands.h"

namespace hs::derpmap {

using nlohmann::json;

std::function<int()> add_convert(CLI::App& app) {
    struct Opts {
        std::string in;
        std::string format;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("convert",
                                   "Convert a map between headscale's YAML and tailcfg JSON "
                                   "(default: to the other format).");
    cmd->add_option("file", o->in, "Map file (default: stdin)");
    cmd->add_option("-o,--output", o->format, "Output format: yaml or json")->check(CLI::IsMember({"yaml", "json"}));
    return [o] {
        const auto in = read_map(o->in);
        const std::string format = !o->format.empty() ? o->format : in.was_json ? "yaml" : "json";
        return write_map(in.map, format);
    };
}

namespace {

bool is_url(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

}  // namespace

std::function<int()> add_merge(CLI::App& app) {
    struct Opts {
        std::vector<std::string> sources;
        std::string config;
        std::string timeout = "10s";
        std::string format = "yaml";
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("merge",
                                   "Merge maps from files and http(s) URLs in order: a later region "
                                   "replaces an earlier one with the same ID, a null region removes it.");
    cmd->add_option("sources", o->sources, "Files (\"-\" for stdin) and URLs, in merge order");
    cmd->add_option("--config", o->config,
                    "Instead: the map hs-control serves from this config.yaml "
                    "(derp.urls, derp.paths, then the embedded region)");
    cmd->add_option("--timeout", o->timeout, "Limit for each URL fetch")->capture_default_str();
    add_output_flag(cmd, o->format);
    return [o] {
        const auto timeout = parse_duration(o->timeout);
        if (timeout.count() <= 0) throw std::invalid_argument("--timeout must be positive");
        json map = {{"Regions", json::object()}};
        if (!o->config.empty()) {
            if (!o->sources.empty()) throw std::invalid_argument("give either --config or map sources, not both");
            const auto loaded = load_config_file(o->config);
            std::map<std::string, json> last_good;
            std::vector<std::string> failures;
            map = derp_map_from_config(
                loaded.config, [&](const std::string& url) { return http_get(url, timeout); }, last_good, failures);
            if (!failures.empty()) {
                std::string all;
                for (const auto& f : failures) all += (all.empty() ? "" : "; ") + f;
                throw DerpMapError(all);
            }
        } else {
            if (o->sources.empty()) throw std::invalid_argument("nothing to merge: give files or URLs (or --config)");
            for (const auto& s : o->sources) {
                if (is_url(s)) {
                    const auto body = http_get(s, timeout);
                    merge_derp_map(map, parse_derp_map(body, s));
                } else {
                    merge_derp_map(map, read_map(s).map);
                }
            }
        }
        return write_map(map, o->format);
    };
}

}  // namespace hs::derpmap
