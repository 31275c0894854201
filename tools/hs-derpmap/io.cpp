// Reading maps from files or stdin, writing them whole, and the --node specification.
#include <cctype>
#include <charconv>
#include <cstdio>

#include "common/base/files.h"
#include "common/config/derpmap.h"
#include "tools/hs-derpmap/commands.h"

namespace hs::derpmap {

using nlohmann::json;

const std::vector<FieldDef> kRegionFields{
    {"RegionID", Kind::Int},    {"RegionCode", Kind::Str}, {"RegionName", Kind::Str},       {"Latitude", Kind::Float},
    {"Longitude", Kind::Float}, {"Avoid", Kind::Bool},     {"NoMeasureNoHome", Kind::Bool},
};
const std::vector<FieldDef> kNodeFields{
    {"Name", Kind::Str},       {"RegionID", Kind::Int},
    {"HostName", Kind::Str},   {"CertName", Kind::Str},
    {"IPv4", Kind::Str},       {"IPv6", Kind::Str},
    {"STUNPort", Kind::Int},   {"STUNOnly", Kind::Bool},
    {"DERPPort", Kind::Int},   {"InsecureForTests", Kind::Bool},
    {"STUNTestIP", Kind::Str}, {"CanPort80", Kind::Bool},
};

bool looks_like_json(const std::string& text) {
    for (const char c : text) {
        if (std::isspace(static_cast<unsigned char>(c))) continue;
        return c == '{';
    }
    return false;
}

Input read_map(const std::string& path) {
    Input in;
    in.name = path.empty() || path == "-" ? "<stdin>" : path;
    const std::string text = path.empty() || path == "-" ? read_stdin(16 << 20) : read_file(path);
    if (text.find_first_not_of(" \t\r\n") == std::string::npos)
        throw DerpMapError(in.name + ": empty input, expected a DERP map");
    in.was_json = looks_like_json(text);
    if (in.was_json) {
        // YAML accepts some things JSON does not; a JSON-looking input must be real JSON.
        try {
            const auto parsed = json::parse(text);
            (void)parsed;
        } catch (const json::parse_error& e) {
            std::string why = e.what();
            if (const auto b = why.find("] "); b != std::string::npos) why.erase(0, b + 2);
            throw DerpMapError(in.name + ": invalid JSON: " + why);
        }
    }
    in.map = parse_derp_map(text, in.name);
    return in;
}

int write_map(const json& map, const std::string& format) {
    const std::string text = format == "json" ? emit_json(map) : emit_yaml(map);
    // One write of the finished text: a failure earlier leaves stdout empty.
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) return 1;
    return std::fflush(stdout) == 0 ? 0 : 1;
}

void add_output_flag(CLI::App* cmd, std::string& format) {
    cmd->add_option("-o,--output", format, "Output format: yaml (headscale's paths format) or json (tailcfg)")
        ->check(CLI::IsMember({"yaml", "json"}))
        ->capture_default_str();
}

namespace {

long long to_int(const std::string& key, const std::string& v) {
    long long n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || end != v.data() + v.size())
        throw std::invalid_argument(key + "=" + v + ": not an integer");
    return n;
}

bool to_bool(const std::string& key, const std::string& v) {
    if (v == "true" || v == "1" || v == "yes") return true;
    if (v == "false" || v == "0" || v == "no") return false;
    throw std::invalid_argument(key + "=" + v + ": expected true or false");
}

}  // namespace

json parse_node_spec(const std::string& spec, long long region_id) {
    json node = json::object();
    std::size_t pos = 0;
    while (pos <= spec.size()) {
        const auto comma = spec.find(',', pos);
        const std::string item = spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        pos = comma == std::string::npos ? spec.size() + 1 : comma + 1;
        if (item.empty()) continue;
        const auto eq = item.find('=');
        if (eq == std::string::npos) throw std::invalid_argument("--node: \"" + item + "\" is not key=value");
        const std::string key = item.substr(0, eq);
        const std::string v = item.substr(eq + 1);
        if (key == "name") node["Name"] = v;
        else if (key == "host" || key == "hostname") node["HostName"] = v;
        else if (key == "ipv4") node["IPv4"] = v;
        else if (key == "ipv6") node["IPv6"] = v;
        else if (key == "stun" || key == "stunport") node["STUNPort"] = to_int(key, v);
        else if (key == "derp" || key == "derpport") node["DERPPort"] = to_int(key, v);
        else if (key == "stunonly") node["STUNOnly"] = to_bool(key, v);
        else if (key == "insecure" || key == "insecurefortests") node["InsecureForTests"] = to_bool(key, v);
        else if (key == "certname") node["CertName"] = v;
        else if (key == "stuntestip") node["STUNTestIP"] = v;
        else if (key == "canport80") node["CanPort80"] = to_bool(key, v);
        else
            throw std::invalid_argument("--node: unknown key \"" + key +
                                        "\" (name, host, ipv4, ipv6, stun, derp, stunonly, insecure, certname, "
                                        "stuntestip, canport80)");
    }
    if (!node.contains("Name") || node["Name"].get<std::string>().empty())
        throw std::invalid_argument("--node: name= is required");
    if (!node.contains("HostName") || node["HostName"].get<std::string>().empty())
        throw std::invalid_argument("--node " + node["Name"].get<std::string>() + ": host= is required");
    node["RegionID"] = region_id;
    return node;
}

}  // namespace hs::derpmap
