// API keys for hs-control's REST API: "hskey-api-<prefix>-<secret>" (see base/secret_key.h). The
// full key is returned once by create; the table holds the prefix and the secret's hash.
#include "common/base/secret_key.h"
#include "common/store/store.h"

namespace hs::store {
namespace {

constexpr std::string_view kKind = "hskey-api-";
constexpr std::size_t kLegacyPrefixLen = 7;
constexpr const char* kColumns = "SELECT id, prefix, expiration, last_seen, created_at FROM api_keys";

ApiKey read_key(const Stmt& st) {
    ApiKey k;
    k.id = st.int64(0);
    k.prefix = st.text(1);
    if (auto e = st.opt_text(2)) k.expiration = parse_time(*e);
    if (auto s = st.opt_text(3)) k.last_seen = parse_time(*s);
    k.created_at = parse_time(st.text(4)).value_or(TimePoint{});
    return k;
}

// headscale's API keys before 0.28: "<7-char prefix>.<secret>", bcrypt of the secret.
std::optional<SecretKey> parse_any_api_key(std::string_view text) {
    if (auto k = parse_secret_key(kKind, text)) return k;
    const auto dot = text.find('.');
    if (dot != kLegacyPrefixLen || text.size() - dot - 1 < 16 || text.size() > 256) return std::nullopt;
    return SecretKey{std::string(text.substr(0, dot)), std::string(text.substr(dot + 1))};
}

}  // namespace

NewApiKey create_api_key(Db& db, std::optional<TimePoint> expiration) {
    const auto key = new_secret_key();
    const auto hash = secret_hash(key.secret);
    auto st = db.prepare("INSERT INTO api_keys(prefix, hash, expiration, created_at) VALUES (?, ?, ?, ?)");
    st.bind(1, key.prefix).bind_blob(2, hash.data(), hash.size());
    if (expiration) st.bind(3, format_time(*expiration));
    else st.bind_null(3);
    st.bind(4, format_time(Clock::now())).run();
    return {*find_api_key(db, db.last_insert_id()), secret_key_text(kKind, key)};
}

std::vector<ApiKey> list_api_keys(Db& db) {
    auto st = db.prepare(std::string(kColumns) + " ORDER BY id");
    std::vector<ApiKey> out;
    while (st.step()) out.push_back(read_key(st));
    return out;
}

std::optional<ApiKey> find_api_key(Db& db, std::int64_t id) {
    auto st = db.prepare(std::string(kColumns) + " WHERE id = ?");
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    return read_key(st);
}

std::optional<ApiKey> find_api_key_by_prefix(Db& db, std::string_view prefix) {
    if (prefix.substr(0, kKind.size()) == kKind) prefix.remove_prefix(kKind.size());
    if (prefix.size() > 4 && prefix.substr(prefix.size() - 4) == "-***") prefix.remove_suffix(4);
    else if (prefix.size() == kLegacyPrefixLen + 3 && prefix.substr(kLegacyPrefixLen) == "***") prefix.remove_suffix(3);
    auto st = db.prepare(std::string(kColumns) + " WHERE prefix = ?");
    st.bind(1, prefix);
    if (!st.step()) return std::nullopt;
    return read_key(st);
}

void expire_api_key(Db& db, std::int64_t id, TimePoint now) {
    db.prepare("UPDATE api_keys SET expiration = ? WHERE id = ?").bind(1, format_time(now)).bind(2, id).run();
    if (db.changes() == 0) throw NotFound("API key " + std::to_string(id) + " not found");
}

void delete_api_key(Db& db, std::int64_t id) {
    db.prepare("DELETE FROM api_keys WHERE id = ?").bind(1, id).run();
    if (db.changes() == 0) throw NotFound("API key " + std::to_string(id) + " not found");
}

std::optional<ApiKey> authenticate_api_key(Db& db, std::string_view text, TimePoint now) {
    const auto key = parse_any_api_key(text);
    if (!key) return std::nullopt;
    auto st = db.prepare("SELECT id, hash FROM api_keys WHERE prefix = ?");
    st.bind(1, key->prefix);
    if (!st.step() || !secret_matches(st.blob(1), key->secret)) return std::nullopt;
    auto found = find_api_key(db, st.int64(0));
    if (!found || found->expired(now)) return std::nullopt;
    return found;
}

std::string masked_api_key(const ApiKey& k) {
    if (k.prefix.size() == kLegacyPrefixLen) return k.prefix + "***";  // as headscale shows them
    return std::string(kKind) + k.prefix + "-***";
}

std::optional<std::string> api_key_prefix(std::string_view text) {
    auto key = parse_any_api_key(text);
    if (!key) return std::nullopt;
    return std::move(key->prefix);
}

ApiKeyRefusal explain_api_key_refusal(Db& db, std::string_view text, TimePoint now) {
    const auto key = parse_any_api_key(text);
    if (!key) return {"malformed API key", ""};
    const auto known = find_api_key_by_prefix(db, key->prefix);
    if (!known) return {"unknown API key", std::string(kKind) + key->prefix + "-***"};
    const auto named = masked_api_key(*known) + " (id " + std::to_string(known->id) + ")";
    return {known->expired(now) ? "expired API key" : "wrong API key secret", named};
}

void touch_api_key(Db& db, std::int64_t id, TimePoint now) {
    db.prepare("UPDATE api_keys SET last_seen = ? WHERE id = ?").bind(1, format_time(now)).bind(2, id).run();
}

}  // namespace hs::store
