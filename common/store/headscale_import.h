// Moving a tailnet from headscale's database into hs's: read every table of the headscale file
// (or PostgreSQL database) read-only in one snapshot (headscale_read*.cpp), turn the rows into hs records with a list of
// what cannot be carried over (headscale_convert.cpp, no I/O), and write them into hs's
// database in one transaction (headscale_write.cpp). Shapes of headscale 0.23 to 0.29:
// /work/shared/reference/admin-config-policy.md §3.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/store/store.h"

namespace hs::store {

// How every ImportError message ends: an import writes everything or nothing.
inline const std::string kNothingImported = "; nothing was imported";

// Refused input: the message names the file, table, row and column, and says that nothing was
// written.
struct ImportError : StoreError {
    using StoreError::StoreError;
};

// One row of a headscale table by column name (columns differ between releases); NULL =
// nullopt. Blobs (key hashes) come as their bytes.
using HeadscaleRow = std::map<std::string, std::optional<std::string>>;

struct HeadscaleTables {
    std::vector<std::string> migrations;  // ids in the gormigrate log; empty table = none
    bool has_migrations_table = false;
    std::string database_version;  // database_versions row 1 (0.29+), else ""
    // users, nodes, pre_auth_keys, api_keys, policies, and routes (0.23-0.25) when present.
    std::map<std::string, std::vector<HeadscaleRow>> tables;
};

// Opens `path` read-only (never writing to it), refuses a file another process has open (a
// running headscale) or that is not an SQLite database with headscale's tables, and reads
// every table in one read transaction. Throws ImportError.
HeadscaleTables read_headscale_db(const std::string& path);
// The same from headscale's PostgreSQL (a postgres:// or postgresql:// URL, libpq's syntax):
// one READ ONLY, REPEATABLE READ transaction; refused while other sessions are connected to the
// database (a running headscale). Messages show the URL without its password.
HeadscaleTables read_headscale_postgres(const std::string& url);
// "postgres://user:***@host/db": the URL with any password replaced, for messages and output.
std::string redacted_postgres_url(const std::string& url);

struct ImportedPreAuthKey {
    PreAuthKey key;
    std::vector<std::uint8_t> hash;  // headscale's bcrypt, or SHA-256 of a plaintext key
};
struct ImportedApiKey {
    ApiKey key;
    std::vector<std::uint8_t> hash;  // headscale's bcrypt
};

struct HeadscaleImport {
    std::string source;  // what the file is, e.g. "headscale 0.26-0.27 (17 migrations)"
    std::vector<User> users;
    std::vector<ImportedPreAuthKey> preauth_keys;
    std::vector<ImportedApiKey> api_keys;
    std::vector<Node> nodes;                // ids kept: they are the clients' node and stable IDs
    std::optional<std::string> policy;      // the newest live row of headscale's policies table
    std::vector<std::string> not_imported;  // one line each: what was left behind and why
};

// The newest migration id this hs knows (headscale v0.29.2); a file with an id it does not
// know comes from a newer headscale and is refused.
inline constexpr const char* kNewestKnownHeadscaleMigration = "202606181200-recover-null-tags-node-user-id";

// Checks the version and every row, converts them. Throws ImportError naming the first row
// that cannot be read (a malformed key, address or time); `name` is the file for messages.
HeadscaleImport convert_headscale(const HeadscaleTables& t, const std::string& name);

// What hs's database holds now, to refuse importing over a tailnet.
struct TailnetCounts {
    std::int64_t users = 0, nodes = 0, preauth_keys = 0, api_keys = 0, policies = 0;
    bool empty() const { return users + nodes + preauth_keys + api_keys + policies == 0; }
};
TailnetCounts count_tailnet(Db& db);

// Writes `imp` into `db` in one transaction, keeping headscale's ids. With `replace`, the
// users, nodes, keys and pending logins already there are deleted first (same transaction);
// without it a non-empty tailnet is refused. On any failure nothing is written. On PostgreSQL
// each table's id sequence is moved past the largest id (never back) in the same transaction.
void write_headscale_import(Db& db, const HeadscaleImport& imp, bool replace);

}  // namespace hs::store
