// Sign-in attempts shared by every place a secret is checked (docs/security.md, "Attempt
// limits"): the names of the keys the limiter locks, the audit rows of SIGNIN-EVENTS
// (signin.failed, signin.locked, signin.succeeded, signin.unlocked), and the unlock operations.
#pragma once

#include <string>

#include "common/admin/json.h"
#include "common/store/model.h"

namespace hs::admin {

// The limiter's key for a credential: "preauthkey:<prefix>", "apikey:<prefix>", "user:<name>".
std::string lock_key_preauth(const std::string& prefix);
std::string lock_key_api(const std::string& prefix);
std::string lock_key_user(const std::string& name);
// What an audit row names for such a key: "pre-auth key prefix <p>", "API key prefix <p>",
// "user <name>"; "unknown" for anything else.
std::string lock_object(const std::string& key);

// What audit rows name a user by: "user <id> (<name>)".
std::string user_object(const User& u);

// The network an address belongs to for "sign-in from a new network": its /24 (IPv4) or /64
// (IPv6) as "a.b.c.0/24"; "" when `ip` is not an address.
std::string signin_network(const std::string& ip);

// Appends a signin.* row (actor, object, source and after as SIGNIN-EVENTS.md describes); logs
// and swallows a failed write, like audit_control_change.
void audit_signin(Db& db, TimePoint now, const std::string& action, const std::string& actor, const std::string& object,
                  const std::string& source, const json& after);

}  // namespace hs::admin
