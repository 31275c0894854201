// POST /verify: the admission webhook of Tailscale's derper (--verify-client-url), as headscale
// serves it (hscontrol/handlers.go VerifyHandler), so derpers pointed at headscale can be pointed
// at hs-control. The derper posts tailcfg.DERPAdmitClientRequest {"NodePublic": "nodekey:...",
// "Source": "ip"} for each connecting client and admits it when the answer is {"Allow": true}.
// Unauthenticated, like headscale's: the answer only says whether a key is a node of the tailnet.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace hs::control {

struct VerifyReply {
    int status = 200;
    std::string body;  // {"Allow":true|false}\n on 200, a plain-text reason otherwise
};

// headscale caps the body at 4 KiB (verifyBodyLimit); the request is a few hundred bytes.
inline constexpr std::size_t kVerifyBodyLimit = 4 * 1024;

// `admits` says whether a node key ("nodekey:<hex>") belongs to a node the tailnet admits.
// 405 for a method other than POST, 413 over the limit, 400 for a body that is not a JSON object
// with a NodePublic string.
VerifyReply derp_verify(std::string_view method, const std::string& body,
                        const std::function<bool(const std::string& node_key)>& admits);

}  // namespace hs::control
