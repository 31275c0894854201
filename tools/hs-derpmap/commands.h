// hs-derpmap: subcommands, and the reading and writing of maps they share.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace hs::derpmap {

// Returns a callable that runs the subcommand and yields the exit code.
std::function<int()> add_new(CLI::App& app);
std::function<int()> add_add_node(CLI::App& app);
std::function<int()> add_remove_region(CLI::App& app);
std::function<int()> add_remove_node(CLI::App& app);
std::function<int()> add_convert(CLI::App& app);
std::function<int()> add_merge(CLI::App& app);
std::function<int()> add_check(CLI::App& app);
std::function<int()> add_probe(CLI::App& app);

// A map read from a file, "-" or "" (stdin); `was_json` tells which format it came in.
struct Input {
    nlohmann::json map;
    bool was_json = false;
    std::string name;
};
Input read_map(const std::string& path);
// True when the text looks like a JSON document rather than YAML.
bool looks_like_json(const std::string& text);

// Headscale's `paths` YAML: lower-case keys, integer region keys, fields in tailcfg order.
std::string emit_yaml(const nlohmann::json& map);
// tailcfg JSON with the canonical field names in tailcfg order, indented.
std::string emit_json(const nlohmann::json& map);
// Writes the whole map in `format` ("yaml" or "json") to stdout in one piece.
int write_map(const nlohmann::json& map, const std::string& format);

// Adds "-o,--output yaml|json" to `cmd`.
void add_output_flag(CLI::App* cmd, std::string& format);

// The tailcfg field tables.
enum class Kind { Str, Int, Bool, Float };
struct FieldDef {
    const char* name;
    Kind kind;
};
extern const std::vector<FieldDef> kRegionFields;
extern const std::vector<FieldDef> kNodeFields;

// Problems found in a map, one line each ("region 901 node d1: ...").
std::vector<std::string> check_map(const nlohmann::json& map);

// "name=d1,host=derp.example.com,ipv4=...,stun=3478,derp=443" -> a DERPNode in `region_id`.
nlohmann::json parse_node_spec(const std::string& spec, long long region_id);

}  // namespace hs::derpmap
