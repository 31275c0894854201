#include "tools/hs-control/derp_verify.h"

#include <nlohmann/json.hpp>

namespace hs::control {

VerifyReply derp_verify(std::string_view method, const std::string& body,
                        const std::function<bool(const std::string& node_key)>& admits) {
    if (method != "POST") return {405, "method not allowed\n"};
    if (body.size() > kVerifyBodyLimit) return {413, "request body too large\n"};
    const auto req = nlohmann::json::parse(body, nullptr, false);
    if (!req.is_object()) return {400, "Bad Request: invalid JSON\n"};
    const auto key = req.find("NodePublic");
    if (key == req.end() || !key->is_string()) return {400, "Bad Request: NodePublic is missing\n"};
    // An unknown or malformed key is simply not admitted, as with headscale.
    const bool allow = admits(key->get<std::string>());
    return {200, nlohmann::json{{"Allow", allow}}.dump() + "\n"};
}

}  // namespace hs::control
