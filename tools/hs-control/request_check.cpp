#include "tools/hs-control/request_check.h"

#include <array>
#include <utility>

namespace hs::control {

using nlohmann::json;

namespace {

enum class Kind { String, Number, Bool, Object, Array };

const char* kind_name(Kind k) {
    switch (k) {
        case Kind::String: return "a string";
        case Kind::Number: return "a number";
        case Kind::Bool: return "true or false";
        case Kind::Object: return "an object";
        case Kind::Array: return "an array";
    }
    return "?";
}

bool is(const json& v, Kind k) {
    switch (k) {
        case Kind::String: return v.is_string();
        case Kind::Number: return v.is_number();
        case Kind::Bool: return v.is_boolean();
        case Kind::Object: return v.is_object();
        case Kind::Array: return v.is_array();
    }
    return false;
}

// Every top-level field that register.cpp or poll.cpp reads (tailcfg.RegisterRequest and
// MapRequest), with the JSON type Tailscale's encoder gives it.
constexpr std::array<std::pair<const char*, Kind>, 16> kFields{{
    {"Version", Kind::Number},
    {"NodeKey", Kind::String},
    {"OldNodeKey", Kind::String},
    {"DiscoKey", Kind::String},
    {"Expiry", Kind::String},
    {"Followup", Kind::String},
    {"Auth", Kind::Object},
    {"Hostinfo", Kind::Object},
    {"Ephemeral", Kind::Bool},
    {"Stream", Kind::Bool},
    {"OmitPeers", Kind::Bool},
    {"Compress", Kind::String},
    {"Endpoints", Kind::Array},
    {"ReadOnly", Kind::Bool},
    {"KeepAlive", Kind::Bool},
    {"DebugFlags", Kind::Array},
}};

}  // namespace

std::optional<std::string> normalize_request(json& req) {
    if (!req.is_object()) return "the request body is not a JSON object";
    for (auto it = req.begin(); it != req.end();) {
        if (it->is_null()) it = req.erase(it);
        else ++it;
    }
    for (const auto& [name, kind] : kFields) {
        const auto it = req.find(name);
        if (it != req.end() && !is(*it, kind)) return std::string("field ") + name + " must be " + kind_name(kind);
    }
    if (const auto v = req.find("Version");
        v != req.end() && (!v->is_number_integer() || v->get<std::int64_t>() < 0 || v->get<std::int64_t>() > 1'000'000))
        return "field Version must be a capability version number";
    if (const auto a = req.find("Auth"); a != req.end())
        if (const auto k = a->find("AuthKey"); k != a->end() && !k->is_null() && !k->is_string())
            return "field Auth.AuthKey must be a string";
    if (const auto h = req.find("Hostinfo"); h != req.end())
        if (const auto n = h->find("Hostname"); n != h->end() && !n->is_null() && !n->is_string())
            return "field Hostinfo.Hostname must be a string";
    return std::nullopt;
}

}  // namespace hs::control
