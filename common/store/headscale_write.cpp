// Writes a converted headscale tailnet into hs's database (SQLite or PostgreSQL): one
// transaction, headscale's ids kept (node IDs are what clients know their peers by).
#include "common/store/headscale_import.h"

namespace hs::store {
namespace {

std::int64_t count(Db& db, const char* sql) {
    auto st = db.prepare(sql);
    st.step();
    return st.int64(0);
}

void bind_opt_time(Stmt& st, int i, const std::optional<TimePoint>& t) {
    if (t) st.bind(i, format_time(*t, true));
    else st.bind_null(i);
}

void insert_user(Db& db, const User& u) {
    auto st = db.prepare(
        "INSERT INTO users(id, name, display_name, email, provider, provider_identifier, profile_pic_url, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    st.bind(1, u.id).bind(2, u.name).bind(3, u.display_name).bind(4, u.email).bind(5, u.provider);
    st.bind(6, u.provider_identifier).bind(7, u.profile_pic_url);
    st.bind(8, format_time(u.created_at, true)).bind(9, format_time(Clock::now(), true)).run();
}

void insert_preauth_key(Db& db, const ImportedPreAuthKey& ik) {
    const auto& k = ik.key;
    auto st = db.prepare(
        "INSERT INTO pre_auth_keys(id, prefix, hash, user_id, reusable, ephemeral, used, tags, expiration, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    st.bind(1, k.id).bind(2, k.prefix).bind_blob(3, ik.hash.data(), ik.hash.size());
    if (k.user_id) st.bind(4, *k.user_id);
    else st.bind_null(4);
    st.bind(5, std::int64_t{k.reusable}).bind(6, std::int64_t{k.ephemeral}).bind(7, std::int64_t{k.used});
    st.bind(8, nlohmann::json(k.tags).dump());
    bind_opt_time(st, 9, k.expiration);
    st.bind(10, format_time(k.created_at, true)).run();
}

void insert_api_key(Db& db, const ImportedApiKey& ik) {
    const auto& k = ik.key;
    auto st = db.prepare(
        "INSERT INTO api_keys(id, prefix, hash, expiration, last_seen, created_at) VALUES (?, ?, ?, ?, ?, ?)");
    st.bind(1, k.id).bind(2, k.prefix).bind_blob(3, ik.hash.data(), ik.hash.size());
    bind_opt_time(st, 4, k.expiration);
    bind_opt_time(st, 5, k.last_seen);
    st.bind(6, format_time(k.created_at, true)).run();
}

// Which record a failed insert was writing, so a constraint error names it.
template <typename F>
void named(const std::string& what, F&& f) {
    try {
        f();
    } catch (const DbError& e) {
        throw ImportError("writing " + what + " failed: " + e.what() + kNothingImported);
    }
}

// PostgreSQL hands out ids from each table's identity sequence, which rows inserted with their
// own ids do not move: the next user, key or node created would get an imported row's id and
// fail. Each sequence goes past the table's largest id, never back (as SQLite's AUTOINCREMENT
// never hands out an id twice, even after --force deleted its row).
void advance_id_sequences(Db& db) {
    if (!db.postgres()) return;
    for (const std::string table : {"users", "pre_auth_keys", "api_keys", "nodes", "policies"})
        db.prepare("SELECT setval(seq, top) FROM (SELECT pg_get_serial_sequence('" + table +
                   "', 'id') AS seq, (SELECT max(id) FROM " + table +
                   ") AS top) x WHERE top > COALESCE((SELECT last_value FROM pg_sequences WHERE "
                   "format('%I.%I', schemaname, sequencename) = x.seq), 0)")
            .run();
}

}  // namespace

TailnetCounts count_tailnet(Db& db) {
    TailnetCounts c;
    c.users = count(db, "SELECT count(*) FROM users");
    c.nodes = count(db, "SELECT count(*) FROM nodes");
    c.preauth_keys = count(db, "SELECT count(*) FROM pre_auth_keys");
    c.api_keys = count(db, "SELECT count(*) FROM api_keys");
    c.policies = count(db, "SELECT count(*) FROM policies");
    return c;
}

void write_headscale_import(Db& db, const HeadscaleImport& imp, bool replace) {
    Db::Tx tx(db);
    const auto before = count_tailnet(db);
    if (!before.empty() && !replace)
        throw ImportError(db.path() + ": the hs database is not empty (" + std::to_string(before.users) + " users, " +
                          std::to_string(before.nodes) + " nodes, " + std::to_string(before.preauth_keys) +
                          " pre-auth keys, " + std::to_string(before.api_keys) + " API keys, " +
                          std::to_string(before.policies) + " policies); --force replaces them with the import" +
                          kNothingImported);
    if (replace) {
        // Children first: nodes restrict deleting their user; policies stay (append-only).
        db.exec(
            "DELETE FROM nodes; DELETE FROM auth_requests; DELETE FROM pre_auth_keys; DELETE FROM api_keys; "
            "DELETE FROM users;");
    }
    for (const auto& u : imp.users)
        named("user " + std::to_string(u.id) + " (\"" + u.name + "\")", [&] { insert_user(db, u); });
    for (const auto& k : imp.preauth_keys)
        named("pre-auth key " + std::to_string(k.key.id), [&] { insert_preauth_key(db, k); });
    for (const auto& k : imp.api_keys) named("API key " + std::to_string(k.key.id), [&] { insert_api_key(db, k); });
    for (const auto& n : imp.nodes)
        named("node " + std::to_string(n.id) + " (\"" + n.given_name + "\")", [&] { insert_node(db, n, true); });
    if (imp.policy) named("the policy", [&] { insert_policy(db, *imp.policy); });
    advance_id_sequences(db);
    tx.commit();
}

}  // namespace hs::store
