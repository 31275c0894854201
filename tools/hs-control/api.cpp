#include "tools/hs-control/api.h"

#include <atomic>
#include <map>
#include <memory>

#include <spdlog/spdlog.h>

#include "common/admin/headscale_api.h"
#include "common/admin/ops.h"
#include "common/admin/signin.h"
#include "common/base/log.h"
#include "common/base/url.h"
#include "common/config/database.h"
#include "tools/hs-control/login_guard.h"

namespace hs::control {
namespace {

constexpr std::string_view kNativePrefix = "/api/hs/v1/";

using admin::json;

ApiReply error(int status, const std::string& msg) { return {status, json{{"error", msg}}.dump()}; }

std::vector<std::string> segments(std::string_view path) {
    std::vector<std::string> out;
    std::size_t pos = 1;
    while (pos <= path.size()) {
        const auto slash = path.find('/', pos);
        out.emplace_back(path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos));
        if (slash == std::string_view::npos) break;
        pos = slash + 1;
    }
    return out;
}

// The operation whose route matches; literal segments beat {variables} (GET /node/routes is
// not GET /node/{id}). Fills `params` with the path variables. `path_known` tells a wrong
// method (405) from an unknown path (404).
const admin::Op* match(std::string_view method, std::string_view path, json& params, bool& path_known) {
    const auto want = segments(path);
    const admin::Op* best = nullptr;
    int best_vars = 1 << 20;
    json best_params;
    for (const auto& op : admin::ops()) {
        const auto have = segments(op.path);
        if (have.size() != want.size()) continue;
        json p = json::object();
        int vars = 0;
        bool ok = true;
        for (std::size_t i = 0; i < have.size() && ok; ++i) {
            if (have[i].size() > 2 && have[i].front() == '{') {
                p[have[i].substr(1, have[i].size() - 2)] = url_unescape(want[i], Plus::Literal);
                ++vars;
            } else {
                ok = have[i] == want[i];
            }
        }
        if (!ok) continue;
        path_known = true;
        if (op.method != method || vars >= best_vars) continue;
        best = &op;
        best_vars = vars;
        best_params = std::move(p);
    }
    if (best) params = std::move(best_params);
    return best;
}

void add_query(std::string_view query, json& params) {
    for (auto& [k, v] : parse_query(query)) params[k] = std::move(v);
}

// The API works on a connection of its own: hs-control's tailnet learns of writes through
// Db::data_version, which moves only for commits made by other connections, so writes on
// the tailnet's connection would go unseen until someone else wrote.
Db& own_connection(const Db& shared, const Config& cfg) {
    static std::map<std::string, std::unique_ptr<Db>> conns;
    auto& c = conns[shared.path()];
    if (!c) c = std::make_unique<Db>(shared.path(), database_options(cfg));
    return *c;
}

std::atomic<std::uint64_t> auth_failures{0};

// Every refusal is counted; the log gets at most a line a second per reason, so a script trying
// keys cannot fill the disk. The line names the sender and the key's public part only.
void refuse(Db& db, std::string_view authorization, TimePoint now, const std::string& peer) {
    ++auth_failures;
    constexpr std::string_view bearer = "Bearer ";
    store::ApiKeyRefusal why{"no Authorization header", ""};
    if (!authorization.empty() && authorization.substr(0, bearer.size()) != bearer)
        why = {"Authorization is not \"Bearer <API key>\"", ""};
    else if (!authorization.empty()) why = store::explain_api_key_refusal(db, authorization.substr(bearer.size()), now);
    static LogLimiter limiter;
    const auto suppressed = limiter.allow(why.reason);
    if (!suppressed) return;
    spdlog::warn("API request from {} refused: {}{}{}", peer.empty() ? "?" : peer, why.reason,
                 why.key.empty() ? "" : " " + why.key, suppressed_note(*suppressed));
}

// The ID of the API key `authorization` carries, if it is valid.
std::optional<std::int64_t> authorized(Db& db, std::string_view authorization, TimePoint now) {
    constexpr std::string_view bearer = "Bearer ";
    if (authorization.substr(0, bearer.size()) != bearer) return std::nullopt;
    const auto key = store::authenticate_api_key(db, authorization.substr(bearer.size()), now);
    if (!key) return std::nullopt;
    // last_seen at minute resolution: enough to spot unused keys, one write a minute at most.
    if (!key->last_seen || now - *key->last_seen > std::chrono::minutes(1)) {
        try {
            store::touch_api_key(db, key->id, now);
        } catch (const std::exception& e) {
            spdlog::debug("API key last_seen not updated: {}", e.what());
        }
    }
    return key->id;
}

std::string_view bearer_of(std::string_view authorization) {
    constexpr std::string_view bearer = "Bearer ";
    return authorization.substr(0, bearer.size()) == bearer ? authorization.substr(bearer.size()) : "";
}

ApiReply unauthorized(bool native, const std::string& why = "unauthorized: missing, unknown or expired API key") {
    // headscale's authentication middleware answers in plain text.
    if (!native) return {401, "Unauthorized", "text/plain; charset=utf-8"};
    return error(401, why);
}

// The limiter's verdict before the key is checked: 429 for a throttled source, 401 for a locked
// key (even a correct one; the attempt counts against the source). nullopt: go on.
std::optional<ApiReply> guard_api_key(LoginGuard* guard, std::string_view authorization, TimePoint now,
                                      const std::string& peer, bool native) {
    if (!guard) return std::nullopt;
    if (const auto wait = guard->throttled(LoginGuard::Kind::ApiKey, peer, now)) {
        ++auth_failures;
        auto r = error(429, "too many failed attempts from your address; retry after " + std::to_string(wait->count()) +
                                " seconds");
        r.retry_after = static_cast<int>(wait->count());
        return r;
    }
    const auto prefix = store::api_key_prefix(bearer_of(authorization));
    if (!prefix) return std::nullopt;
    const auto key = admin::lock_key_api(*prefix);
    const auto until = guard->locked(key, now);
    if (!until) return std::nullopt;
    ++auth_failures;
    guard->failed(LoginGuard::Kind::ApiKey, peer, key, "locked", now);
    return unauthorized(native, "unauthorized: API key locked after too many failed attempts until " +
                                    format_time(*until) + "; hs-admin apikeys unlock " + *prefix + " lifts it");
}

// A refused key: against the key when its prefix names an existing key, else the source only.
void count_api_failure(Db& db, LoginGuard* guard, std::string_view authorization, TimePoint now,
                       const std::string& peer) {
    if (!guard) return;
    const auto prefix = store::api_key_prefix(bearer_of(authorization));
    const auto known = prefix ? store::find_api_key_by_prefix(db, *prefix) : std::nullopt;
    if (known && !known->expired(now))
        guard->failed(LoginGuard::Kind::ApiKey, peer, admin::lock_key_api(*prefix), "wrong key", now);
    else guard->failed(LoginGuard::Kind::ApiKey, peer, "", known ? "expired key" : "unknown key", now);
}

// The approval endpoints, where a 404 means a registration ID nobody was given.
bool names_registration(std::string_view method, std::string_view path) {
    return method == "POST" && (path.ends_with("/auth/register") || path.ends_with("/auth/approve") ||
                                path.ends_with("/auth/reject") || path.ends_with("/node/register"));
}

ApiReply run_api(Db& db, const Config& cfg, std::string_view method, std::string_view target, const std::string& body,
                 TimePoint now, const std::string& peer, bool native, std::int64_t key_id);

}  // namespace

std::uint64_t api_auth_failures() { return auth_failures.load(); }

ApiReply handle_api(Db& shared, const Config& cfg, std::string_view method, std::string_view target,
                    std::string_view authorization, const std::string& body, TimePoint now, const std::string& peer,
                    LoginGuard* guard) {
    Db* conn = nullptr;
    try {
        conn = &own_connection(shared, cfg);
    } catch (const DbError& e) {
        return error(503, std::string("database unavailable: ") + e.what());
    }
    Db& db = *conn;
    const auto q = target.find('?');
    const auto full_path = target.substr(0, q);
    const bool native = full_path.rfind(kNativePrefix, 0) == 0;
    std::optional<std::int64_t> key_id;
    try {
        if (auto refused = guard_api_key(guard, authorization, now, peer, native)) return std::move(*refused);
        key_id = authorized(db, authorization, now);
        if (!key_id) {
            refuse(db, authorization, now, peer);
            count_api_failure(db, guard, authorization, now, peer);
            return unauthorized(native);
        }
        if (guard) {
            const auto id = std::to_string(*key_id);
            guard->succeeded(LoginGuard::Kind::ApiKey, peer,
                             admin::lock_key_api(*store::api_key_prefix(bearer_of(authorization))), "apikey:" + id,
                             "API key " + id, now);
        }
    } catch (const DbError& e) {
        return error(503, std::string("database unavailable: ") + e.what());
    }
    auto reply = run_api(db, cfg, method, target, body, now, peer, native, *key_id);
    if (guard && reply.status == 404 && names_registration(method, full_path))
        guard->failed(LoginGuard::Kind::RegistrationId, peer, "", "unknown registration id", now);
    return reply;
}

namespace {

// The operation an authorized request names, under either API.
ApiReply run_api(Db& db, const Config& cfg, std::string_view method, std::string_view target, const std::string& body,
                 TimePoint now, const std::string& peer, bool native, std::int64_t key_id) {
    admin::Env env{db, cfg, now};
    env.actor = "apikey:" + std::to_string(key_id);
    env.source = peer;
    const auto q = target.find('?');
    const auto full_path = target.substr(0, q);
    const auto query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
    if (!native) {
        auto r = admin::headscale_api(env, method, full_path, query, body);
        if (r.status == 500) spdlog::error("API {} {}: {}", method, full_path, r.body);
        return {r.status, std::move(r.body)};
    }
    return native_api(env, method, full_path, query, body);
}

}  // namespace

ApiReply native_api(admin::Env& env, std::string_view method, std::string_view full_path, std::string_view query,
                    const std::string& body) {
    if (full_path.rfind(kNativePrefix, 0) != 0) return error(404, "no such API endpoint");
    // The operation table names its routes /api/v1/...; natively they are served under /api/hs/v1.
    const std::string path = "/api/v1" + std::string(full_path.substr(kNativePrefix.size() - 1));
    json params = json::object();
    bool path_known = false;
    const auto* op = match(method, path, params, path_known);
    if (!op) return path_known ? error(405, "method not allowed") : error(404, "no such API endpoint");
    if (!query.empty()) add_query(query, params);
    if (!body.empty()) {
        const auto j = json::parse(body, nullptr, false);
        if (!j.is_object()) return error(400, "request body must be a JSON object");
        for (const auto& [k, v] : j.items())
            if (!params.contains(k)) params[k] = v;  // path variables win over the body
    }
    try {
        return {200, admin::run_op(op->name, params, env).dump(-1, ' ', false, json::error_handler_t::replace)};
    } catch (const store::NotFound& e) {
        return error(404, e.what());
    } catch (const store::StoreError& e) {
        return error(400, e.what());
    } catch (const std::invalid_argument& e) {
        return error(400, e.what());
    } catch (const DbError& e) {
        return error(503, e.what());
    } catch (const std::exception& e) {
        spdlog::error("API {} {}: {}", method, path, e.what());
        return error(500, e.what());
    }
}

}  // namespace hs::control
