#include "common/store/credentials.h"

#include "common/store/store.h"

namespace hs::store {

std::optional<LocalCredentials> find_credentials(Db& db, std::int64_t user_id) {
    auto st = db.prepare(
        "SELECT password_hash, password_changed_at, totp_secret, totp_last_step, "
        "(SELECT COUNT(*) FROM recovery_codes r WHERE r.user_id = c.user_id AND r.used_at IS NULL) "
        "FROM local_credentials c WHERE user_id = ?");
    st.bind(1, user_id);
    if (!st.step()) return std::nullopt;
    LocalCredentials c;
    c.user_id = user_id;
    c.password_hash = st.text(0);
    c.password_changed_at = parse_time(st.text(1));
    c.totp_secret = st.text(2);
    c.totp_last_step = static_cast<std::uint64_t>(st.int64(3));
    c.recovery_codes_left = static_cast<int>(st.int64(4));
    return c;
}

namespace {

void ensure_row(Db& db, std::int64_t user_id) {
    db.prepare("INSERT INTO local_credentials(user_id) VALUES (?) ON CONFLICT DO NOTHING").bind(1, user_id).run();
}

}  // namespace

void set_password_hash(Db& db, std::int64_t user_id, const std::string& hash, TimePoint now) {
    Db::Tx tx(db);
    ensure_row(db, user_id);
    db.prepare("UPDATE local_credentials SET password_hash = ?, password_changed_at = ? WHERE user_id = ?")
        .bind(1, hash)
        .bind(2, format_time(now))
        .bind(3, user_id)
        .run();
    tx.commit();
}

void set_totp(Db& db, std::int64_t user_id, const std::string& secret_base32,
              const std::vector<std::string>& code_hashes) {
    Db::Tx tx(db);
    ensure_row(db, user_id);
    db.prepare("UPDATE local_credentials SET totp_secret = ?, totp_last_step = 0 WHERE user_id = ?")
        .bind(1, secret_base32)
        .bind(2, user_id)
        .run();
    db.prepare("DELETE FROM recovery_codes WHERE user_id = ?").bind(1, user_id).run();
    for (const auto& h : code_hashes)
        db.prepare("INSERT INTO recovery_codes(user_id, code_hash) VALUES (?, ?)").bind(1, user_id).bind(2, h).run();
    tx.commit();
}

bool clear_totp(Db& db, std::int64_t user_id) {
    Db::Tx tx(db);
    const auto c = find_credentials(db, user_id);
    if (!c || c->totp_secret.empty()) return false;
    db.prepare("UPDATE local_credentials SET totp_secret = '', totp_last_step = 0 WHERE user_id = ?")
        .bind(1, user_id)
        .run();
    db.prepare("DELETE FROM recovery_codes WHERE user_id = ?").bind(1, user_id).run();
    tx.commit();
    return true;
}

bool use_totp_step(Db& db, std::int64_t user_id, std::uint64_t step) {
    db.prepare("UPDATE local_credentials SET totp_last_step = ? WHERE user_id = ? AND totp_last_step < ?")
        .bind(1, static_cast<std::int64_t>(step))
        .bind(2, user_id)
        .bind(3, static_cast<std::int64_t>(step))
        .run();
    return db.changes() == 1;
}

bool use_recovery_code(Db& db, std::int64_t user_id, const std::string& code_hash, TimePoint now) {
    db.prepare(
          "UPDATE recovery_codes SET used_at = ? WHERE id = (SELECT id FROM recovery_codes WHERE user_id = ? AND "
          "code_hash = ? AND used_at IS NULL LIMIT 1)")
        .bind(1, format_time(now))
        .bind(2, user_id)
        .bind(3, code_hash)
        .run();
    return db.changes() == 1;
}

}  // namespace hs::store
