#!/usr/bin/env bash
# What a GIN index's pending list costs a keyword search, and what bounding it costs the writes: the question behind
# migration 0025 (memory search's two GIN indexes, gin_pending_list_limit 256 kB).
#
# A scratch PostgreSQL (the setup script's, on a free port, removed at the end) holds a table shaped like memory
# search's keyword side: ROWS rows (default 1,000,000) in ten scopes, each row a tsvector of 12 words and an array of
# 12 8-byte tokens (a blind index) drawn from 5,000, under the two-column GIN indexes memories has (scope, words). For
# each setting it merges the lists (VACUUM), writes FRESH rows (default 20,000) the way memory writes arrive (the first
# row: none), and then times four keyword queries on one scope: both legs OR-ed, LIMIT 200, as the keyword leg asks. It
# prints the pending list each index holds after the writes, the writes' time per row and the queries' times.
#
# Usage: bench/gin-pending-list.sh [ROWS] [FRESH]
set -euo pipefail
rows=${1:-1000000}
fresh=${2:-20000}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /tmp/aspireai-ginbench.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$work"
cleanup() { as_owner "$bin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
as_owner "$bin/initdb" -D "$work/pg" -A trust -U postgres >/dev/null
as_owner "$bin/pg_ctl" -D "$work/pg" -l "$work/log" -w \
  -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c shared_buffers=512MB -c maintenance_work_mem=512MB" start >/dev/null
psql() { command psql -h 127.0.0.1 -p "$port" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

echo "# GIN pending list against keyword search: $rows rows in 10 scopes, $fresh written after each merge, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
psql <<SQL
CREATE EXTENSION btree_gin;
CREATE EXTENSION pageinspect;
-- Autovacuum off: the lists are merged only where this script says so (VACUUM) or when they reach their limit.
CREATE TABLE g (id bigserial, scope_key text, tsv tsvector, bi bytea[]) WITH (autovacuum_enabled = off);
CREATE FUNCTION words(n int) RETURNS text LANGUAGE sql VOLATILE AS \$\$
  SELECT string_agg('w' || floor(random() * 5000)::int, ' ') FROM generate_series(1, n) \$\$;
CREATE FUNCTION toks(n int) RETURNS bytea[] LANGUAGE sql VOLATILE AS \$\$
  SELECT array_agg(decode(lpad(to_hex(floor(random() * 5000)::int), 16, '0'), 'hex')) FROM generate_series(1, n) \$\$;
INSERT INTO g (scope_key, tsv, bi) SELECT 'user:' || (i % 10), to_tsvector('simple', words(12)), toks(12) FROM generate_series(1, $rows) i;
CREATE INDEX g_tsv ON g USING gin (scope_key, tsv);
CREATE INDEX g_bi ON g USING gin (scope_key, bi);
VACUUM ANALYZE g;
SQL

echo "| setting | pending pages (words / tokens) | write µs per row | keyword query ms (4 in a row) |"
echo "|---|---|---:|---|"
measure() {
  local name=$1 setting=$2 writes=${3:-$fresh}
  psql -c "ALTER INDEX g_tsv SET ($setting)" -c "ALTER INDEX g_bi SET ($setting)" -c "VACUUM g"
  local started ended
  started=$(date +%s%N)
  psql -c "INSERT INTO g (scope_key, tsv, bi) SELECT 'user:' || (i % 10), to_tsvector('simple', words(12)), toks(12) FROM generate_series(1, $writes) i"
  ended=$(date +%s%N)
  local pending
  pending=$(psql -At -c "SELECT (SELECT n_pending_pages FROM gin_metapage_info(get_raw_page('g_tsv', 0))) || ' / ' || (SELECT n_pending_pages FROM gin_metapage_info(get_raw_page('g_bi', 0)))")
  local times=()
  for word in 17 4242 99 1234; do
    times+=("$(psql -At <<SQL | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
\timing on
SELECT count(*) FROM (SELECT id FROM g WHERE scope_key = 'user:3'
  AND (tsv @@ to_tsquery('simple', 'w$word | w$((word + 1))') OR bi && ARRAY[decode(lpad(to_hex($word), 16, '0'), 'hex')]) LIMIT 200) x;
SQL
)")
  done
  echo "| $name | $pending | $( [ "$writes" -gt 0 ] && echo $(( (ended - started) / 1000 / writes )) || echo – ) | ${times[*]} |"
}
measure "lists merged, no write since" "fastupdate = on, gin_pending_list_limit = 4096" 0
measure "fastupdate on, 4 MB (PostgreSQL's default)" "fastupdate = on, gin_pending_list_limit = 4096"
measure "fastupdate on, 512 kB" "gin_pending_list_limit = 512"
measure "fastupdate on, 256 kB (migration 0025)" "gin_pending_list_limit = 256"
measure "fastupdate on, 128 kB" "gin_pending_list_limit = 128"
measure "fastupdate on, 64 kB" "gin_pending_list_limit = 64"
measure "fastupdate off" "fastupdate = off"
