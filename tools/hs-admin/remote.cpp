// hs-admin --remote: runs an operation on hs-control's REST API instead of the local file.
// The operation's route comes from the same table the server dispatches on, so the two cannot
// drift apart; the server returns the operation's JSON, which prints exactly as a local result.
#include <stdexcept>

#include "common/admin/ops.h"
#include "common/net/http_fetch.h"
#include "tools/hs-admin/context.h"

namespace hs::admin {
namespace {

constexpr auto kTimeout = std::chrono::seconds(30);
constexpr std::size_t kMaxBody = 256u << 20;  // a 100,000-node listing fits

struct RemoteError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string escape(const std::string& s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':') {
            out.push_back(static_cast<char>(c));
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

// A parameter as URL text: strings as they are, lists joined with commas.
std::string param_text(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    if (v.is_array()) {
        std::string out;
        for (const auto& e : v) out += (out.empty() ? "" : ",") + param_text(e);
        return out;
    }
    return v.dump();
}

// Unset filters are left out of a query string rather than sent empty.
bool empty_param(const json& v) {
    return v.is_null() || (v.is_string() && v.get_ref<const std::string&>().empty()) || v == false;
}

}  // namespace

json remote_call(const std::string& url, const std::string& api_key, const std::string& op_name, const json& params) {
    const auto* op = find_op(op_name);
    if (!op) throw std::logic_error("unknown operation " + op_name);
    if (api_key.empty())
        throw RemoteError(
            "--remote needs an API key: --api-key KEY or $HS_API_KEY (create one with hs-admin apikeys create)");
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
        throw RemoteError("--remote " + url + ": expected an http:// or https:// URL");

    // Path parameters fill the {x} segments; the rest go in the query (GET, DELETE) or body.
    // The table's routes read /api/v1/...; hs-control serves them (with hs-admin's JSON) under
    // /api/hs/v1/, its /api/v1/ being headscale's format.
    std::string path = "/api/hs/v1" + op->path.substr(std::string_view("/api/v1").size());
    json rest = json::object();
    for (const auto& [k, v] : params.items()) {
        const auto slot = "{" + k + "}";
        if (const auto at = path.find(slot); at != std::string::npos)
            path.replace(at, slot.size(), escape(param_text(v)));
        else rest[k] = v;
    }
    const bool in_query = op->method == "GET" || op->method == "DELETE";
    std::string query;
    if (in_query)
        for (const auto& [k, v] : rest.items())
            if (!empty_param(v)) query += (query.empty() ? "?" : "&") + k + "=" + escape(param_text(v));
    auto base = url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    const auto body = rest.dump();

    HttpResponse res;
    try {
        res = http_request(op->method, base + path + query, in_query ? nullptr : &body, "Bearer " + api_key, kTimeout,
                           kMaxBody);
    } catch (const FetchError& e) {
        throw RemoteError(e.what());
    }
    const auto j = json::parse(res.body, nullptr, false);
    if (res.status == 200 && !j.is_discarded()) return j;
    if (j.is_object() && j.contains("error") && j["error"].is_string())
        throw RemoteError(j["error"].get<std::string>());
    throw RemoteError(url + ": HTTP status " + std::to_string(res.status));
}

}  // namespace hs::admin
