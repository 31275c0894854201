# A throwaway PostgreSQL cluster for a test: initdb in $T/pg, a unix socket there and no TCP,
# owned by an unprivileged user (PostgreSQL refuses root). Source after lib.sh (it needs $T);
# then start_pg, and pg_create NAME for each database. Sets PGBIN, PGSOCK, PGUSER_, psql_.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$PGBIN/initdb" ] || { echo "FAIL: PostgreSQL's server is needed (package postgresql, see .ci/deps.sh)" >&2; exit 1; }
PGSOCK=$T/pg
as_pg=()
if [ "$(id -u)" = 0 ]; then
  PGUSER_=postgres; id postgres >/dev/null 2>&1 || PGUSER_=nobody
  as_pg=(runuser -u "$PGUSER_" --)
else
  PGUSER_=$(id -un)
fi
psql_() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGSOCK" -U "$PGUSER_" "$@"; }
# pq DB SQL: one query's rows, fields separated by |.
pq() { psql_ -d "$1" -tAc "$2"; }
pg_stop() { "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$PGSOCK/data" -m immediate stop >/dev/null 2>&1 || true; }
start_pg() {
  [ "$(id -u)" != 0 ] || chmod 755 "$T"
  mkdir -p "$PGSOCK"
  [ "$(id -u)" != 0 ] || chown "$PGUSER_" "$PGSOCK"
  "${as_pg[@]}" "$PGBIN/initdb" -D "$PGSOCK/data" --auth=trust -U "$PGUSER_" >"$PGSOCK/initdb.log" 2>&1 ||
    { cat "$PGSOCK/initdb.log" >&2; exit 1; }
  "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$PGSOCK/data" -o "-k $PGSOCK -c listen_addresses=''" -l "$PGSOCK/server.log" -w start \
    >/dev/null || { cat "$PGSOCK/server.log" >&2; exit 1; }
}
pg_create() { psql_ -d postgres -c "CREATE DATABASE $1"; }
# pg_yaml DB: the database section of a config for database DB of this cluster.
pg_yaml() {
  printf 'database:\n  type: postgres\n  postgres: {host: %s, name: %s, user: %s}\n' "$PGSOCK" "$1" "$PGUSER_"
}
