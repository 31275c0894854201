// The schema, as an append-only list of migrations. Never edit a released step: add one.
// Column names follow headscale's where the meaning is the same, so an importer maps 1:1.
// Times are RFC 3339 UTC text ("2026-11-23T12:00:00Z"); key columns hold the text forms
// ("nodekey:<hex>"); JSON columns hold compact JSON.
#include "common/store/db.h"

namespace hs::db_detail {

struct Migration {
    int version;
    const char* sql;
};

const std::vector<Migration>& migrations() {
    static const std::vector<Migration> list = {
        {1, R"sql(
CREATE TABLE users (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    name                TEXT NOT NULL,
    display_name        TEXT NOT NULL DEFAULT '',
    email               TEXT NOT NULL DEFAULT '',
    provider            TEXT NOT NULL DEFAULT '',
    provider_identifier TEXT,
    profile_pic_url     TEXT NOT NULL DEFAULT '',
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE UNIQUE INDEX users_local_name ON users(name) WHERE provider_identifier IS NULL;
CREATE UNIQUE INDEX users_provider_identifier ON users(provider_identifier) WHERE provider_identifier IS NOT NULL;

-- Keys are stored hashed: prefix is the public part used for lookup, hash covers the secret.
CREATE TABLE pre_auth_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    prefix      TEXT NOT NULL UNIQUE,
    hash        BLOB NOT NULL,
    user_id     INTEGER REFERENCES users(id) ON DELETE CASCADE,
    reusable    INTEGER NOT NULL DEFAULT 0,
    ephemeral   INTEGER NOT NULL DEFAULT 0,
    used        INTEGER NOT NULL DEFAULT 0,
    tags        TEXT NOT NULL DEFAULT '[]',
    expiration  TEXT,
    created_at  TEXT NOT NULL
);

CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    prefix      TEXT NOT NULL UNIQUE,
    hash        BLOB NOT NULL,
    expiration  TEXT,
    last_seen   TEXT,
    created_at  TEXT NOT NULL
);

-- A user who still owns nodes cannot be deleted (RESTRICT): deleting devices is explicit.
CREATE TABLE nodes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    machine_key     TEXT NOT NULL,
    node_key        TEXT NOT NULL UNIQUE,
    disco_key       TEXT NOT NULL DEFAULT '',
    endpoints       TEXT NOT NULL DEFAULT '[]',
    host_info       TEXT NOT NULL DEFAULT '{}',
    ipv4            TEXT UNIQUE,
    ipv6            TEXT UNIQUE,
    hostname        TEXT NOT NULL DEFAULT '',
    given_name      TEXT NOT NULL UNIQUE,
    user_id         INTEGER REFERENCES users(id) ON DELETE RESTRICT,
    register_method TEXT NOT NULL DEFAULT '',
    tags            TEXT NOT NULL DEFAULT '[]',
    auth_key_id     INTEGER REFERENCES pre_auth_keys(id) ON DELETE SET NULL,
    last_seen       TEXT,
    expiry          TEXT,
    approved_routes TEXT NOT NULL DEFAULT '[]',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX nodes_machine_key ON nodes(machine_key);
CREATE INDEX nodes_user_id ON nodes(user_id);

-- Append-only: the row with the highest id is the active policy (policy.mode: database).
CREATE TABLE policies (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    data        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
)sql"},
        // A change log written by triggers, so a long-running reader (hs-control, hs-derper)
        // that sees PRAGMA data_version move reloads only the rows that changed, whichever
        // process wrote them. Readers prune old entries; a reader that finds a gap reloads all.
        {2, R"sql(
CREATE TABLE change_log (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    tbl     TEXT NOT NULL,
    row_id  INTEGER NOT NULL,
    op      TEXT NOT NULL,
    at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE TRIGGER users_ins AFTER INSERT ON users BEGIN INSERT INTO change_log(tbl, row_id, op) VALUES ('users', NEW.id, 'insert'); END;
CREATE TRIGGER users_upd AFTER UPDATE ON users BEGIN INSERT INTO change_log(tbl, row_id, op) VALUES ('users', NEW.id, 'update'); END;
CREATE TRIGGER users_del AFTER DELETE ON users BEGIN INSERT INTO change_log(tbl, row_id, op) VALUES ('users', OLD.id, 'delete'); END;
CREATE TRIGGER nodes_ins AFTER INSERT ON nodes BEGIN INSERT INTO change_log(tbl, row_id, op) VALUES ('nodes', NEW.id, 'insert'); END;
CREATE TRIGGER nodes_upd AFTER UPDATE ON nodes BEGIN INSERT INTO change_log(tbl, row_id, op) VALUES ('nodes', NEW.id, 'update'); END;
CREATE TRIGGER nodes_del AFTER DELETE ON nodes BEGIN INSERT INTO change_log(tbl, row_id, op) VALUES ('nodes', OLD.id, 'delete'); END;
CREATE TRIGGER pre_auth_keys_upd AFTER UPDATE ON pre_auth_keys BEGIN INSERT INTO change_log(tbl, row_id, op) VALUES ('pre_auth_keys', NEW.id, 'update'); END;
CREATE TRIGGER pre_auth_keys_del AFTER DELETE ON pre_auth_keys BEGIN INSERT INTO change_log(tbl, row_id, op) VALUES ('pre_auth_keys', OLD.id, 'delete'); END;
CREATE TRIGGER policies_ins AFTER INSERT ON policies BEGIN INSERT INTO change_log(tbl, row_id, op) VALUES ('policies', NEW.id, 'insert'); END;
)sql"},
        // Interactive logins waiting for an admin: hs-control writes the request, hs-admin (any
        // process) approves it by setting user_id, and hs-control completes the client's held
        // request when it sees the change. nodes.online mirrors hs-control's live sessions so
        // other tools can show and filter on it.
        {3, R"sql(
CREATE TABLE auth_requests (
    id          TEXT PRIMARY KEY,
    machine_key TEXT NOT NULL,
    node_key    TEXT NOT NULL,
    hostname    TEXT NOT NULL DEFAULT '',
    user_id     INTEGER REFERENCES users(id) ON DELETE CASCADE,
    status      TEXT NOT NULL DEFAULT 'pending',
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE TRIGGER auth_requests_upd AFTER UPDATE ON auth_requests BEGIN INSERT INTO change_log(tbl, row_id, op) VALUES ('auth_requests', NEW.rowid, 'update'); END;
ALTER TABLE nodes ADD COLUMN online INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN ephemeral INTEGER NOT NULL DEFAULT 0;
)sql"},
        // The subnet prefixes a node is primary router for, as hs-control's election decided
        // (a JSON list, like approved_routes): hs-admin shows which router serves a prefix now.
        {4, R"sql(
ALTER TABLE nodes ADD COLUMN primary_routes TEXT NOT NULL DEFAULT '[]';
)sql"},
        // The identity provider's groups of an OIDC user at the last sign-in (a JSON list), for
        // group:oidc/<name> in the policy (docs/oidc.md).
        {5, R"sql(
ALTER TABLE users ADD COLUMN oidc_groups TEXT NOT NULL DEFAULT '[]';
)sql"},
        // The audit trail (docs/security.md): one row per change, whoever made it. Rows are
        // never changed or removed; the triggers refuse it, so a bug or a script cannot rewrite
        // history through this schema (the file's owner can still edit the file itself).
        {6, R"sql(
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    object      TEXT NOT NULL DEFAULT '',
    before      TEXT,
    after       TEXT,
    source      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
)sql"},
        // Sign-in lockouts (docs/security.md): per pre-auth key, API key or account, the failures
        // in the current window and the lock, so a lock survives a restart. `key` is
        // "preauthkey:<prefix>", "apikey:<prefix>" or "user:<name>". An unlock (hs-admin) deletes
        // the row; hs-control reads the row before it trusts its own copy, so that takes effect at once.
        {7, R"sql(
CREATE TABLE signin_locks (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL DEFAULT 0,
    window_start TEXT NOT NULL,
    lockouts     INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    updated_at   TEXT NOT NULL
);
)sql"},
        // Built-in accounts (auth.local, docs/security.md): an argon2id password hash, a TOTP
        // secret with the last step used (a code is accepted once), and one-time recovery codes
        // kept as hashes. Tables of their own: signing in must not touch users, whose changes
        // reload the tailnet. (Version 7 is the attempt limiter's lockouts.)
        {8, R"sql(
CREATE TABLE local_credentials (
    user_id             INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    password_hash       TEXT NOT NULL DEFAULT '',
    password_changed_at TEXT NOT NULL DEFAULT '',
    totp_secret         TEXT NOT NULL DEFAULT '',
    totp_last_step      INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE recovery_codes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash   TEXT NOT NULL,
    used_at     TEXT
);
CREATE INDEX recovery_codes_user ON recovery_codes(user_id);
)sql"},
        // Where each webhook's deliveries stand (docs/security.md): the last audit row id whose
        // events were all delivered (or given up), the events of the next row already
        // delivered (a row can raise two), and the failing streak, so a restart neither loses
        // nor repeats events and the 24 h give-up clock keeps running.
        {9, R"sql(
CREATE TABLE webhook_cursors (
    url            TEXT PRIMARY KEY,
    last_id        INTEGER NOT NULL,
    done_in_next   INTEGER NOT NULL DEFAULT 0,
    attempts       INTEGER NOT NULL DEFAULT 0,
    failing_since  TEXT,
    updated_at     TEXT NOT NULL
);
)sql"},
        // Device approval (auth.device_approval, docs/admin.md): a node registered while it is on
        // waits, invisible to its peers, until an admin approves it; rows from before stay
        // approved. auth_requests.method is how a pending login was approved (cli, oidc), which
        // becomes the node's register_method as headscale records it.
        {10, R"sql(
ALTER TABLE nodes ADD COLUMN approved INTEGER NOT NULL DEFAULT 1;
ALTER TABLE auth_requests ADD COLUMN method TEXT NOT NULL DEFAULT 'cli';
)sql"},
    };
    return list;
}

}  // namespace hs::db_detail
