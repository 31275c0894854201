// The --db rule (a SQLite path, a postgres:// URL or a libpq keyword string) and that what it
// makes for messages never carries the password.
#include <catch2/catch.hpp>

#include "common/store/db_target.h"

using namespace hs;
using Catch::Contains;

TEST_CASE("a database argument (--db): SQLite paths stay paths") {
    for (const std::string p : {"/var/lib/hs/db.sqlite", "db.sqlite", "./host=x.sqlite", "/tmp/a=b", "",
                                "postgres.sqlite", "postgres:/x", "x y=1"}) {
        CAPTURE(p);
        CHECK_FALSE(names_postgres(p));
        const auto t = parse_db_target(p);
        CHECK(t.name == p);
        CHECK(t.postgres.empty());
    }
}

TEST_CASE("a database argument (--db): URLs and keyword strings are PostgreSQL") {
    for (const std::string p :
         {"postgres://h/db", "postgresql://h/db", "host=/run/postgresql dbname=hs", "  dbname = hs", "service=hs"})
        CHECK(names_postgres(p));

    const auto url = parse_db_target("postgresql://hs@db.example:6432/hsdb?sslmode=require", "hs-derper");
    CHECK(url.name == "PostgreSQL hsdb at db.example:6432");
    CHECK_THAT(url.postgres, Contains("host='db.example'") && Contains("port='6432'") && Contains("dbname='hsdb'") &&
                                 Contains("user='hs'") && Contains("sslmode='require'"));
    CHECK_THAT(url.postgres, Contains("connect_timeout='10'") && Contains("tcp_user_timeout='5000'") &&
                                 Contains("application_name='hs-derper'"));

    const auto kw = parse_db_target("host=/run/postgresql dbname=hs user=hs connect_timeout=3");
    CHECK(kw.name == "PostgreSQL hs at /run/postgresql:5432");
    CHECK_THAT(kw.postgres, Contains("connect_timeout='3'") && Contains("host='/run/postgresql'"));
    CHECK(parse_db_target("user=hs").name == "PostgreSQL (default database) at localhost:5432");
}

TEST_CASE("a database argument (--db): the password reaches libpq but never the name or an error") {
    for (const std::string p : {"postgres://hs:s3cret@db.example/hs", "postgres://hs@db.example/hs?password=s3cret",
                                "host=db.example dbname=hs password=s3cret", "dbname='password=s3cret'"}) {
        CAPTURE(p);
        const auto t = parse_db_target(p);
        CHECK_THAT(t.postgres, Contains("s3cret"));
        CHECK_THAT(t.name, !Contains("s3cret"));
    }
    // A quote or a value with a quote and a backslash survives the rebuilt string.
    CHECK_THAT(parse_db_target("password='it\\'s' dbname=hs").postgres, Contains("password='it\\'s'"));
    for (const std::string bad : {"host=x password s3cret", "host=x password='s3cret", "postgres://h/db?s3cret=1",
                                  "postgres://hs:s3cret@h:1/db?x=%zz"}) {
        CAPTURE(bad);
        try {
            parse_db_target(bad);
            FAIL("accepted");
        } catch (const DbError& e) {
            CHECK_THAT(e.what(), Contains("not a PostgreSQL connection string") && !Contains("s3cret"));
        }
    }
}
