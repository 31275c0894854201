// new, add-node, remove-region, remove-node: make a map from flags or change one read from a
// file or stdin, writing the result on stdout so the commands chain in pipelines.
#include <memory>
#include <set>

#include "common/config/derpmap.h"
#include "tools/hs-derpmap/commands.h"

namespace hs::derpmap {

using nlohmann::json;

namespace {

struct RegionOpts {
    long long region_id = 0;
    std::string code;
    std::string name;
    std::vector<std::string> nodes;
    std::string in;
    std::string format = "yaml";
};

void add_nodes(json& region, const RegionOpts& o) {
    if (!region.contains("Nodes")) region["Nodes"] = json::array();
    for (const auto& spec : o.nodes) region["Nodes"].push_back(parse_node_spec(spec, o.region_id));
}

// Node names are unique across the whole map: refuse a --node whose name is taken.
void check_new_names(const json& map, const RegionOpts& o) {
    std::set<std::string> names;
    for (const auto& [id, r] : map["Regions"].items()) {
        if (r.is_null() || !r.contains("Nodes")) continue;
        for (const auto& n : r["Nodes"]) names.insert(n.value("Name", ""));
    }
    for (const auto& spec : o.nodes) {
        const auto name = parse_node_spec(spec, o.region_id)["Name"].get<std::string>();
        if (!names.insert(name).second) throw std::invalid_argument("node name \"" + name + "\" is already in the map");
    }
}

}  // namespace

std::function<int()> add_new(CLI::App& app) {
    auto o = std::make_shared<RegionOpts>();
    auto* cmd = app.add_subcommand("new", "Print a map with one region made from flags.");
    cmd->add_option("--region-id", o->region_id, "Region ID (900-999 are meant for your own servers)")
        ->required()
        ->check(CLI::Range(1LL, (1LL << 53) - 1));
    cmd->add_option("--region-code", o->code, "Short region code, e.g. home")->required();
    cmd->add_option("--region-name", o->name, "Long region name (default: the code)");
    cmd->add_option("--node", o->nodes,
                    "A node: name=N,host=H[,ipv4=A|none][,ipv6=A|none][,stun=PORT|-1][,derp=PORT]"
                    "[,insecure=true][,certname=C][,stunonly=true][,canport80=true][,stuntestip=A]; repeatable")
        ->required();
    add_output_flag(cmd, o->format);
    return [o] {
        json map = {{"Regions", json::object()}};
        check_new_names(map, *o);
        json region = {
            {"RegionID", o->region_id}, {"RegionCode", o->code}, {"RegionName", o->name.empty() ? o->code : o->name}};
        add_nodes(region, *o);
        map["Regions"][std::to_string(o->region_id)] = region;
        return write_map(map, o->format);
    };
}

std::function<int()> add_add_node(CLI::App& app) {
    auto o = std::make_shared<RegionOpts>();
    auto* cmd = app.add_subcommand("add-node",
                                   "Add nodes to a region of a map read from FILE or stdin; a new "
                                   "region needs --region-code.");
    cmd->add_option("file", o->in, "Map file (default: stdin)");
    cmd->add_option("--region-id", o->region_id, "Region to add the nodes to")
        ->required()
        ->check(CLI::Range(1LL, (1LL << 53) - 1));
    cmd->add_option("--region-code", o->code, "Code for a region that does not exist yet");
    cmd->add_option("--region-name", o->name, "Name for a region that does not exist yet (default: the code)");
    cmd->add_option("--node", o->nodes, "A node, as for `new`; repeatable")->required();
    add_output_flag(cmd, o->format);
    return [o] {
        auto in = read_map(o->in);
        json& map = in.map;
        check_new_names(map, *o);
        const auto id = std::to_string(o->region_id);
        if (!map["Regions"].contains(id) || map["Regions"][id].is_null()) {
            if (o->code.empty())
                throw std::invalid_argument("region " + id + " is not in the map; give --region-code to create it");
            map["Regions"][id] = {{"RegionID", o->region_id},
                                  {"RegionCode", o->code},
                                  {"RegionName", o->name.empty() ? o->code : o->name}};
        }
        add_nodes(map["Regions"][id], *o);
        return write_map(map, o->format);
    };
}

std::function<int()> add_remove_region(CLI::App& app) {
    auto o = std::make_shared<RegionOpts>();
    auto* cmd = app.add_subcommand("remove-region", "Remove a region from a map read from FILE or stdin.");
    cmd->add_option("id", o->region_id, "Region ID")->required();
    cmd->add_option("file", o->in, "Map file (default: stdin)");
    add_output_flag(cmd, o->format);
    return [o] {
        auto in = read_map(o->in);
        if (in.map["Regions"].erase(std::to_string(o->region_id)) == 0)
            throw std::invalid_argument("region " + std::to_string(o->region_id) + " is not in " + in.name);
        return write_map(in.map, o->format);
    };
}

std::function<int()> add_remove_node(CLI::App& app) {
    auto o = std::make_shared<RegionOpts>();
    auto name = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("remove-node", "Remove a node (by name) from a map read from FILE or stdin.");
    cmd->add_option("name", *name, "Node name")->required();
    cmd->add_option("file", o->in, "Map file (default: stdin)");
    add_output_flag(cmd, o->format);
    return [o, name] {
        auto in = read_map(o->in);
        bool found = false;
        for (auto& [id, r] : in.map["Regions"].items()) {
            if (r.is_null() || !r.contains("Nodes")) continue;
            auto& nodes = r["Nodes"];
            for (std::size_t i = 0; i < nodes.size(); ++i) {
                if (nodes[i].value("Name", "") == *name) {
                    nodes.erase(i);
                    found = true;
                    break;
                }
            }
        }
        if (!found) throw std::invalid_argument("node \"" + *name + "\" is not in " + in.name);
        return write_map(in.map, o->format);
    };
}

}  // namespace hs::derpmap
