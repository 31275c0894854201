// The database a configuration names, as Db opens it: a SQLite file (database.sqlite.*) or a
// PostgreSQL database (database.postgres.*). Every hs process opens its connections through these.
#pragma once

#include <string>

#include "common/config/config.h"
#include "common/store/db.h"

namespace hs {

// libpq's connection string for database.postgres.* (values quoted, the password included: the
// file pass_path names is read here, and FileError thrown when it cannot be).
std::string postgres_conninfo(const Config& c);

// What messages call the database: the SQLite path, or "PostgreSQL NAME at HOST:PORT" (never
// the password).
std::string database_name(const Config& c);

inline bool database_is_postgres(const Config& c) { return c.database_type == "postgres"; }

inline Db::Options database_options(const Config& c) {
    Db::Options o;
    o.wal = c.database_wal;
    o.wal_autocheckpoint = c.database_wal_autocheckpoint;
    if (database_is_postgres(c)) o.postgres = postgres_conninfo(c);
    return o;
}

}  // namespace hs
