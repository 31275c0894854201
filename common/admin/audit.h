// The audit trail's shared pieces: summaries of the objects a change touches, and the row
// hs-control writes for its own changes (registrations, ephemeral node removal, policy reloads).
#pragma once

#include <string>

#include "common/admin/json.h"

namespace hs::admin {

// {id, name, user_id, tags, expiry, approved_routes, node_key, machine_key}: enough to tell
// what changed without the whole host_info.
json node_summary(const Node& n);
// "node 7 (laptop)"
std::string node_object(const Node& n);
// `j` with secrets ("key" fields holding a full key) dropped and strings over 160 bytes
// replaced by their length, so a row never holds a secret or a whole policy.
json audit_redact(const json& j);
// Appends a row with actor "hs-control"; logs and swallows a failed write (the change stands).
void audit_control_change(Db& db, TimePoint now, const std::string& action, const std::string& object,
                          const json& before, const json& after, const std::string& source);
// The audit row as printed by `hs-admin audit list` and GET /api/v1/audit.
json audit_json(const store::AuditEntry& e);

}  // namespace hs::admin
