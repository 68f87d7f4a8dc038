#!/usr/bin/env bash
# Seconds from `./eng/up.sh` to the whole stack healthy, with the tree already built: the dashboard answers, and the
# Api's, Workers' and Web's /health say Healthy (each of them is healthy only once its Postgres, Redis and, for the
# Api and Workers, the migrator's schema and the embedding model are ready). Prints when each piece came up, then
# stops what it started (SIGTERM to its own process group, the way Ctrl+C stops the AppHost) and waits for the ports
# to close before the next run.
#
# Usage: bench/startup.sh [RUNS]            (default 3)
# The first run starts on an empty data directory (initdb, every migration, the first administrator); the others
# restart on it, as a developer's second `./eng/up.sh` does. The README's ports are used, so nothing else may hold
# them; the data directory is a temporary one, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}

api_port=5080 workers_port=5085 web_port=5090 postgres_port=55432 redis_port=56379
dashboard_port=18888
ports=("$api_port" "$workers_port" "$web_port" "$postgres_port" "$redis_port" "$dashboard_port" 18889 18890 18891)

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "${ports[@]}"; do
  if port_open "$port"; then echo "port $port is in use: stop what holds it first" >&2; exit 1; fi
done

# "With the tree already built": the same build step as ./eng/up.sh, before the clock starts.
bash eng/build-if-changed.sh

data_dir=$(mktemp -d /tmp/aspireai-startup.XXXXXX)
log_dir=$data_dir/logs
mkdir -p "$log_dir"
pid=""

stop_stack() {
  [ -n "$pid" ] || return 0
  # The stack runs in a session of its own (setsid), so its process group is exactly what this script started.
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "   (still running 60 s after SIGTERM: SIGKILL to its group)" >&2
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  # DCP stops the services it ran after the AppHost goes (its own processes leave a few seconds later, by themselves);
  # the next run needs the ports.
  for port in "${ports[@]}"; do
    for _ in $(seq 1 300); do port_open "$port" || break; sleep 0.1; done
  done
  pid=""
}

cleanup() {
  stop_stack
  # The cluster's files belong to the postgres user when run as root; rm as root removes them anyway.
  rm -rf "$data_dir"
}
trap cleanup EXIT

# /health answers 200 only when every check is healthy (503 otherwise).
healthy() { curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/health" 2>/dev/null | grep -q '^200$'; }
dashboard_up() { curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$dashboard_port/" 2>/dev/null | grep -q '^200$'; }

echo "load before: $(uptime)"
for run in $(seq 1 "$runs"); do
  start=$(date +%s.%N)
  setsid ./eng/up.sh --data-dir "$data_dir" >"$log_dir/run$run.log" 2>&1 &
  pid=$!
  declare -A at=()
  pending=(dashboard postgres redis api workers web)
  while [ "${#pending[@]}" -gt 0 ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "run $run: ./eng/up.sh exited early; its log:" >&2
      tail -n 40 "$log_dir/run$run.log" >&2
      exit 1
    fi
    now=$(date +%s.%N)
    elapsed=$(echo "$now - $start" | bc)
    if (( $(echo "$elapsed > 300" | bc) )); then
      echo "run $run: not healthy after 300 s (waiting for ${pending[*]}); log: $log_dir/run$run.log" >&2
      exit 1
    fi
    still=()
    for piece in "${pending[@]}"; do
      case $piece in
        dashboard) dashboard_up && ok=1 || ok=0 ;;
        postgres) port_open "$postgres_port" && ok=1 || ok=0 ;;
        redis) port_open "$redis_port" && ok=1 || ok=0 ;;
        api) healthy "$api_port" && ok=1 || ok=0 ;;
        workers) healthy "$workers_port" && ok=1 || ok=0 ;;
        web) healthy "$web_port" && ok=1 || ok=0 ;;
      esac
      if [ "$ok" = 1 ]; then at[$piece]=$elapsed; else still+=("$piece"); fi
    done
    pending=("${still[@]}")
    [ "${#pending[@]}" -gt 0 ] && sleep 0.2
  done
  total=$(echo "$(date +%s.%N) - $start" | bc)
  kind=$([ "$run" = 1 ] && echo "empty data directory" || echo "existing data directory")
  printf 'run %d (%s): all healthy after %.1f s — dashboard %.1f, postgres listening %.1f, redis %.1f, api %.1f, workers %.1f, web %.1f\n' \
    "$run" "$kind" "$total" "${at[dashboard]}" "${at[postgres]}" "${at[redis]}" "${at[api]}" "${at[workers]}" "${at[web]}"
  unset at
  stop_stack
done
echo "load after: $(uptime)"
