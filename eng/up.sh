#!/usr/bin/env bash
# Sets up the machine (idempotent) and starts the whole stack: Postgres, Redis, migrations, Api, Workers, Web.
# Extra arguments go to the AppHost, e.g. ./eng/up.sh --api-port 6080 or ./eng/up.sh --non-interactive
set -euo pipefail
cd "$(dirname "$0")/.."
ASPIREAI_SKIP_CHROMIUM="${ASPIREAI_SKIP_CHROMIUM:-1}" bash eng/setup.sh
exec dotnet run --project AppHost -- "$@"
