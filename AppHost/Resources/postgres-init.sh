#!/usr/bin/env bash
# One-shot before the local Postgres starts: creates the cluster on the first run (initdb with the generated
# superuser password) and hands the data directory to the postgres user when running as root.
# Arguments: DATA_DIR BIN_DIR. The password comes in POSTGRES_PASSWORD.
set -euo pipefail
data_dir=$1
bin_dir=$2
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is not set}"

as_server() {
  if [ "$(id -u)" -eq 0 ]; then
    setpriv --reuid=postgres --regid=postgres --init-groups "$@"
  else
    "$@"
  fi
}

mkdir -p "$data_dir"
if [ "$(id -u)" -eq 0 ]; then
  # The server's user must reach the data directory through every parent directory.
  dir=$(dirname "$data_dir")
  while [ "$dir" != "/" ]; do chmod o+x "$dir"; dir=$(dirname "$dir"); done
  chown -R postgres:postgres "$data_dir"
fi
chmod 700 "$data_dir"

if [ -f "$data_dir/PG_VERSION" ]; then
  echo "cluster exists in $data_dir"
  exit 0
fi

# initdb reads the password from a file; it lives outside the data directory (which must be empty).
pwfile=$(mktemp "$(dirname "$data_dir")/.pwfile.XXXXXX")
trap 'rm -f "$pwfile"' EXIT
printf '%s' "$POSTGRES_PASSWORD" > "$pwfile"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$pwfile"
as_server "$bin_dir/initdb" -D "$data_dir" -U postgres --pwfile="$pwfile" \
  --auth-host=scram-sha-256 --auth-local=peer --encoding=UTF8 --locale=C.UTF-8 >/dev/null
echo "initialised a new cluster in $data_dir"
