#!/usr/bin/env bash
# Installs what AspireAi's stack and tests need on Debian 12 (bookworm), idempotently:
# redis-server, PostgreSQL 15 with pgvector (built from Debian's source package), and, for the tests, Debian's
# chromium (browser tests) and nodejs + npm (the official openai npm client). A run with everything present does
# no apt work and takes about a second.
set -euo pipefail

PG_MAJOR=15
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_SHARE=/usr/share/postgresql/$PG_MAJOR

log() { printf '[setup] %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then exec sudo -E bash "$0" "$@"; fi
    log "must run as root (or with sudo) to install packages"; exit 1
  fi
}

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    apt-get update -qq
    apt_updated=1
  fi
}

apt_install() {
  local missing=()
  for p in "$@"; do have_pkg "${p%%=*}" || missing+=("$p"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  apt_update_once
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

pgvector_installed() {
  [ -f "$PG_SHARE/extension/vector.control" ] && [ -f "/usr/lib/postgresql/$PG_MAJOR/lib/vector.so" ]
}

build_pgvector() {
  # The server-dev package must match the installed server exactly, or apt upgrades the server too.
  local server_version
  server_version=$(dpkg-query -W -f='${Version}' "postgresql-$PG_MAJOR")
  apt_install build-essential "postgresql-server-dev-$PG_MAJOR=$server_version" dpkg-dev

  # pgvector is only packaged from trixie on. Fetch its *source* through a private apt configuration,
  # so that no trixie binary line ever reaches /etc/apt (that would upgrade libc6 and remove libssl3).
  local work
  work=$(mktemp -d)
  mkdir -p "$work/sources.d" "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
  cat >"$work/sources.d/trixie-src.sources" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  local opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/sources.d"
              -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
  log "fetching pgvector source"
  apt-get "${opts[@]}" update -qq
  (cd "$work/src" && apt-get "${opts[@]}" source -qq pgvector >/dev/null)
  local dir
  dir=$(find "$work/src" -maxdepth 1 -type d -name 'pgvector-*' | head -n1)
  [ -n "$dir" ] || { log "pgvector source not found"; exit 1; }
  log "building $(basename "$dir")"
  make -s -C "$dir" USE_PGXS=1 PG_CONFIG="$PG_BIN/pg_config" OPTFLAGS="" >/dev/null
  make -s -C "$dir" USE_PGXS=1 PG_CONFIG="$PG_BIN/pg_config" install >/dev/null
  rm -rf "$work"
}

chromium_wanted() { [ "${ASPIREAI_SKIP_CHROMIUM:-0}" != "1" ]; }

main() {
  local want=()
  have_pkg redis-server || want+=(redis-server)
  have_pkg "postgresql-$PG_MAJOR" || want+=("postgresql-$PG_MAJOR" "postgresql-contrib")
  if chromium_wanted; then have_pkg chromium || want+=(chromium fonts-liberation); fi
  # Node and npm for the tests that drive the Api with the official `openai` npm package.
  # (Checked by command: a Node from elsewhere that ships its own npm is fine.)
  if chromium_wanted; then
    command -v node >/dev/null 2>&1 || want+=(nodejs)
    command -v npm >/dev/null 2>&1 || want+=(npm)
  fi
  if [ "${#want[@]}" -gt 0 ] || ! pgvector_installed; then
    need_root "$@"
    [ "${#want[@]}" -gt 0 ] && apt_install "${want[@]}"
    # Debian's packages start system-wide services; the stack runs its own instances instead.
    for svc in redis-server postgresql; do
      if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled "$svc" >/dev/null 2>&1; then
        systemctl disable --now "$svc" >/dev/null 2>&1 || true
      fi
    done
    pgvector_installed || build_pgvector
  fi
  pgvector_installed || { log "pgvector is not installed"; exit 1; }
  command -v redis-server >/dev/null || { log "redis-server is not installed"; exit 1; }
  [ -x "$PG_BIN/initdb" ] || { log "PostgreSQL $PG_MAJOR is not installed"; exit 1; }
}

main "$@"
