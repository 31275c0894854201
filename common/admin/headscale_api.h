// headscale's REST API (/api/v1, its grpc-gateway) on hs's operations, so web UIs and scripts
// written for headscale v0.29.2 work unchanged: the same paths and methods, the response
// envelopes ({"users": [...]}, {"node": {...}}, {} for deletes), camelCase field names, IDs as
// strings, RFC 3339 times, request fields in either spelling (camelCase or proto names,
// `expiration` and `expiry` as times, `aclTags`), and errors as {"code": <gRPC code>,
// "message": ..., "details": []} with the gateway's HTTP status. The operations themselves are
// those of ops.h; this file only translates requests and results. hs-admin's own JSON (ops.h,
// docs/json.md) is served unchanged under /api/hs/v1 (docs/api.md).
#pragma once

#include <string>
#include <string_view>

#include "common/admin/ops.h"

namespace hs::admin {

struct HeadscaleReply {
    int status = 200;
    std::string body;  // JSON
};

// One request: `path` without the query, `query` the text after '?', `body` the request body
// (JSON object or empty). Authentication is the caller's.
HeadscaleReply headscale_api(Env& env, std::string_view method, std::string_view path, std::string_view query,
                             const std::string& body);

}  // namespace hs::admin
