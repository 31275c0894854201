// hs-control's REST APIs, with API keys (hs-admin apikeys create) as bearer tokens: under
// /api/hs/v1/ the operations of common/admin/ops.h with hs-admin's JSON (what hs-admin --remote
// uses), under /api/v1/ headscale's wire format (common/admin/headscale_api.h). A pure function
// of the request and the database, so it is tested without sockets; server.cpp routes /api/ here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/admin/ops.h"
#include "common/base/timeutil.h"
#include "common/config/config.h"
#include "common/store/db.h"

namespace hs::control {

struct ApiReply {
    int status = 200;
    std::string body;  // JSON: the operation's result, or {"error": "..."}
    std::string content_type = "application/json";
    int retry_after = 0;  // seconds, for a 429 (the Retry-After header)
};

class LoginGuard;

// `db` names the database; the API writes through a connection of its own to that file, so the
// tailnet watching `db` sees the changes like any other process's. `authorization` is the
// Authorization header ("Bearer hskey-api-..."); a missing, unknown or expired key gets 401
// before any operation runs, is counted (api_auth_failures) and logged with `peer` (the
// client's "ip:port"), at most one line per second per kind of failure.
// With a `guard` (hs-control's attempt limiter): a source that failed too often gets 429 with
// retry_after before its key is looked at; a locked key gets 401 even when it is correct; each
// refusal counts against the source, and a wrong secret for an existing key against that key;
// an unknown registration ID given to an approval endpoint counts against the source.
ApiReply handle_api(Db& db, const Config& cfg, std::string_view method, std::string_view target,
                    std::string_view authorization, const std::string& body, TimePoint now,
                    const std::string& peer = "", LoginGuard* guard = nullptr);

// One /api/hs/v1 request once authenticated: `path` the whole path (/api/hs/v1/...), `query` the
// text after '?'. The operation's JSON, or {"error": ...} with 400 (bad input), 404, 405, 503
// (database) or 500; no other exception escapes. Transport-free (tests/fuzz/fuzz_rest_api.cpp).
ApiReply native_api(admin::Env& env, std::string_view method, std::string_view path, std::string_view query,
                    const std::string& body);

// Requests refused for their API key since the process started (hs_control_api_auth_failures_total).
std::uint64_t api_auth_failures();

}  // namespace hs::control
