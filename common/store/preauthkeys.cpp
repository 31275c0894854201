// Pre-auth keys are "hskey-auth-<prefix>-<secret>" (see base/secret_key.h): a database leak
// reveals no usable key.
#include <algorithm>

#include "common/base/secret_key.h"
#include "common/store/store.h"

namespace hs::store {
namespace {

constexpr std::string_view kKeyPrefix = "hskey-auth-";
constexpr std::string_view kLegacyPrefix = "legacy-";

constexpr const char* kKeyColumns =
    "SELECT id, prefix, user_id, reusable, ephemeral, used, tags, expiration, created_at FROM pre_auth_keys";

PreAuthKey read_key(const Stmt& st) {
    PreAuthKey k;
    k.id = st.int64(0);
    k.prefix = st.text(1);
    if (!st.is_null(2)) k.user_id = st.int64(2);
    k.reusable = st.int64(3) != 0;
    k.ephemeral = st.int64(4) != 0;
    k.used = st.int64(5) != 0;
    const auto tags = nlohmann::json::parse(st.text(6), nullptr, false);
    if (tags.is_array())
        for (const auto& t : tags)
            if (t.is_string()) k.tags.push_back(t.get<std::string>());
    if (auto e = st.opt_text(7)) k.expiration = parse_time(*e);
    k.created_at = parse_time(st.text(8)).value_or(TimePoint{});
    return k;
}

}  // namespace

void validate_tag(const std::string& t) {
    const bool ok = t.size() > 4 && t.rfind("tag:", 0) == 0 && t.size() <= 63 + 4 &&
                    std::all_of(t.begin() + 4, t.end(), [](char c) {
                        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
                    });
    if (!ok)
        throw StoreError("invalid tag \"" + t + "\": expected tag:<name> with lower-case letters, digits, '-' or '_'");
}

NewPreAuthKey create_preauth_key(Db& db, std::optional<std::int64_t> user_id, bool reusable, bool ephemeral,
                                 std::optional<TimePoint> expiration, std::vector<std::string> tags) {
    for (const auto& t : tags) validate_tag(t);
    std::sort(tags.begin(), tags.end());
    tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
    if (!user_id && tags.empty()) throw StoreError("a pre-auth key needs a user or at least one tag");
    if (user_id && !find_user(db, *user_id)) throw NotFound("user " + std::to_string(*user_id) + " not found");
    const auto key = new_secret_key();
    const auto hash = secret_hash(key.secret);
    auto st = db.prepare(
        "INSERT INTO pre_auth_keys(prefix, hash, user_id, reusable, ephemeral, tags, expiration, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    st.bind(1, key.prefix).bind_blob(2, hash.data(), hash.size());
    if (user_id) st.bind(3, *user_id);
    else st.bind_null(3);
    st.bind(4, std::int64_t{reusable}).bind(5, std::int64_t{ephemeral}).bind(6, nlohmann::json(tags).dump());
    if (expiration) st.bind(7, format_time(*expiration));
    else st.bind_null(7);
    st.bind(8, format_time(Clock::now())).run();
    NewPreAuthKey out{*find_preauth_key(db, db.last_insert_id()), secret_key_text(kKeyPrefix, key)};
    return out;
}

std::vector<PreAuthKey> list_preauth_keys(Db& db) {
    auto st = db.prepare(std::string(kKeyColumns) + " ORDER BY id");
    std::vector<PreAuthKey> out;
    while (st.step()) out.push_back(read_key(st));
    return out;
}

std::optional<PreAuthKey> find_preauth_key(Db& db, std::int64_t id) {
    auto st = db.prepare(std::string(kKeyColumns) + " WHERE id = ?");
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    return read_key(st);
}

std::string legacy_preauth_prefix(std::string_view key) {
    static constexpr char kHex[] = "0123456789abcdef";
    const auto h = secret_hash(key);
    std::string out(kLegacyPrefix);
    for (std::size_t i = 0; i < 8; ++i) out += {kHex[h[i] >> 4], kHex[h[i] & 15]};
    return out;
}

namespace {

std::optional<SecretKey> parse_any_preauth_key(std::string_view text) {
    auto key = parse_secret_key(kKeyPrefix, text);
    // headscale before 0.28 handed out plaintext keys (48 hex digits); imported ones are found
    // by a prefix derived from their hash, and the whole text is the secret.
    if (!key && !text.empty() && text.size() <= 256 && text.substr(0, 6) != "hskey-")
        key = SecretKey{legacy_preauth_prefix(text), std::string(text)};
    return key;
}

}  // namespace

std::optional<std::string> preauth_key_prefix(std::string_view text) {
    auto key = parse_any_preauth_key(text);
    if (!key) return std::nullopt;
    return std::move(key->prefix);
}

std::optional<PreAuthKey> find_preauth_key_by_prefix(Db& db, std::string_view prefix) {
    if (prefix.substr(0, kKeyPrefix.size()) == kKeyPrefix) prefix.remove_prefix(kKeyPrefix.size());
    if (prefix.size() > 4 && prefix.substr(prefix.size() - 4) == "-***") prefix.remove_suffix(4);
    auto st = db.prepare(std::string(kKeyColumns) + " WHERE prefix = ?");
    st.bind(1, prefix);
    if (!st.step()) return std::nullopt;
    return read_key(st);
}

std::optional<PreAuthKey> lookup_preauth_key(Db& db, std::string_view text) {
    const auto key = parse_any_preauth_key(text);
    if (!key) return std::nullopt;
    auto st = db.prepare("SELECT id, hash FROM pre_auth_keys WHERE prefix = ?");
    st.bind(1, key->prefix);
    if (!st.step()) return std::nullopt;
    if (!secret_matches(st.blob(1), key->secret)) return std::nullopt;
    return find_preauth_key(db, st.int64(0));
}

void expire_preauth_key(Db& db, std::int64_t id, TimePoint now) {
    db.prepare("UPDATE pre_auth_keys SET expiration = ? WHERE id = ?").bind(1, format_time(now)).bind(2, id).run();
    if (db.changes() == 0) throw NotFound("pre-auth key " + std::to_string(id) + " not found");
}

void delete_preauth_key(Db& db, std::int64_t id) {
    db.prepare("DELETE FROM pre_auth_keys WHERE id = ?").bind(1, id).run();
    if (db.changes() == 0) throw NotFound("pre-auth key " + std::to_string(id) + " not found");
}

bool claim_preauth_key(Db& db, std::int64_t id) {
    db.prepare("UPDATE pre_auth_keys SET used = 1 WHERE id = ? AND (used = 0 OR reusable = 1)").bind(1, id).run();
    return db.changes() == 1;
}

std::string masked_preauth_key(const PreAuthKey& k) {
    if (k.prefix.rfind(kLegacyPrefix, 0) == 0) return k.prefix + "-***";
    return std::string(kKeyPrefix) + k.prefix + "-***";
}

}  // namespace hs::store
