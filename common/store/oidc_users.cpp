#include "common/store/store.h"

namespace hs::store {

User upsert_oidc_user(Db& db, const User& u) {
    if (!u.provider_identifier || u.provider_identifier->empty())
        throw StoreError("an OIDC user needs a provider identifier");
    validate_user_name(u.name);
    const auto now = format_time(Clock::now());
    const auto groups = nlohmann::json(u.groups).dump();
    Db::Tx tx(db);
    auto find = db.prepare("SELECT id FROM users WHERE provider_identifier = ?");
    find.bind(1, *u.provider_identifier);
    std::int64_t id = 0;
    if (find.step()) {
        id = find.int64(0);
        db.prepare(
              "UPDATE users SET name = ?, display_name = ?, email = ?, profile_pic_url = ?, provider = 'oidc', "
              "oidc_groups = ?, updated_at = ? WHERE id = ?")
            .bind(1, u.name)
            .bind(2, u.display_name)
            .bind(3, u.email)
            .bind(4, u.profile_pic_url)
            .bind(5, groups)
            .bind(6, now)
            .bind(7, id)
            .run();
    } else {
        db.prepare(
              "INSERT INTO users(name, display_name, email, provider, provider_identifier, profile_pic_url, "
              "oidc_groups, created_at, updated_at) VALUES (?, ?, ?, 'oidc', ?, ?, ?, ?, ?)")
            .bind(1, u.name)
            .bind(2, u.display_name)
            .bind(3, u.email)
            .bind(4, *u.provider_identifier)
            .bind(5, u.profile_pic_url)
            .bind(6, groups)
            .bind(7, now)
            .bind(8, now)
            .run();
        id = db.last_insert_id();
    }
    tx.commit();
    return *find_user(db, id);
}

}  // namespace hs::store
