// A --db argument that may name either engine: a SQLite file, or a PostgreSQL database given as
// a postgres:// or postgresql:// URL or as a libpq keyword string ("host=/run/postgresql
// dbname=hs user=hs"). Tools that take one argument for the database (hs-derper --db) share
// this rule so an operator writes the same thing everywhere.
#pragma once

#include <string>
#include <string_view>

#include "common/store/db.h"

namespace hs {

struct DbTarget {
    // What messages, logs and metrics call the database: the SQLite path, or
    // "PostgreSQL NAME at HOST:PORT". Never holds the password.
    std::string name;
    // libpq's connection string (Db::Options::postgres), the password included; empty for SQLite.
    std::string postgres;
};

// What every hs connection to PostgreSQL sets unless told otherwise (seconds, milliseconds):
// connect_timeout, a server that does not answer is an error at start, not a hang;
// tcp_user_timeout, a server that goes silent mid-query (a host gone, a network cut that sends
// no reset) fails the query after 5 s, where the kernel's retransmissions would keep the caller
// (hs-control's event loop) waiting about 15 minutes. TCP only: ignored on a Unix socket.
inline constexpr const char* kPgConnectTimeout = "10";
inline constexpr const char* kPgTcpUserTimeout = "5000";

// A libpq connection string value in single quotes, with \ and ' escaped as libpq reads them.
std::string conninfo_quoted(const std::string& v);

// A postgres:// or postgresql:// URL (libpq's URI form).
bool is_postgres_url(std::string_view arg);

// "PostgreSQL DB at HOST:PORT", how messages name a PostgreSQL database (never with a password);
// an empty host is localhost, an empty port 5432, as libpq takes them.
std::string postgres_display_name(const std::string& db, const std::string& host, const std::string& port);

// The rule: an argument that starts with postgres:// or postgresql://, or whose first word is
// followed by '=' (a keyword such as host=, dbname=, service=; spaces around it allowed), names
// PostgreSQL; anything else is a SQLite path (write ./NAME for a file whose name would read as
// a keyword). Does not connect.
bool names_postgres(std::string_view arg);

// Parses `arg` by the rule above. For PostgreSQL the connection string is rebuilt from libpq's
// parse of it, with connect_timeout and tcp_user_timeout (kPgConnectTimeout, kPgTcpUserTimeout)
// and `application_name` added unless given. Throws DbError when libpq cannot parse it; the message
// quotes no part of the argument, which may hold the password.
DbTarget parse_db_target(const std::string& arg, std::string_view application_name = "hs");

}  // namespace hs
