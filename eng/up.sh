#!/usr/bin/env bash
# Sets up the machine (idempotent) and runs the Aspire AppHost: the dashboard at http://127.0.0.1:18888, then Postgres,
# Redis, the migrator, Api, Workers and Web. Ctrl+C stops everything.
# Extra arguments go to the AppHost, e.g. ./eng/up.sh --api-port 6080 or ./eng/up.sh --infrastructure Containers
# It builds only when the tree changed since its last build (eng/build-if-changed.sh; ASPIREAI_BUILD=1 forces it).
set -euo pipefail
cd "$(dirname "$0")/.."
ASPIREAI_SKIP_CHROMIUM="${ASPIREAI_SKIP_CHROMIUM:-1}" bash eng/setup.sh
bash eng/build-if-changed.sh
exec dotnet run --no-build --project AppHost -- "$@"
