// Secrets of built-in accounts (auth.local): the password hash, the TOTP secret and recovery
// code hashes. Each function is one short transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/base/timeutil.h"
#include "common/store/db.h"

namespace hs::store {

struct LocalCredentials {
    std::int64_t user_id = 0;
    std::string password_hash;  // PHC string; empty: no password set
    std::optional<TimePoint> password_changed_at;
    std::string totp_secret;  // base32; empty: no second step enrolled
    std::uint64_t totp_last_step = 0;
    int recovery_codes_left = 0;
};

std::optional<LocalCredentials> find_credentials(Db& db, std::int64_t user_id);
// Sets the password hash and its change time (the row is created when missing).
void set_password_hash(Db& db, std::int64_t user_id, const std::string& hash, TimePoint now);
// Enrolls a TOTP secret and replaces the recovery codes with `code_hashes`.
void set_totp(Db& db, std::int64_t user_id, const std::string& secret_base32,
              const std::vector<std::string>& code_hashes);
// Removes the TOTP secret and every recovery code; false when none was enrolled.
bool clear_totp(Db& db, std::int64_t user_id);
// Records that a code of `step` was used; false when that step or a later one was already used
// (two sign-ins racing with one code: only the first wins).
bool use_totp_step(Db& db, std::int64_t user_id, std::uint64_t step);
// Marks the unused recovery code with hash `code_hash` used; false when there is none.
bool use_recovery_code(Db& db, std::int64_t user_id, const std::string& code_hash, TimePoint now);

}  // namespace hs::store
