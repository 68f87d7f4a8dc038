#!/usr/bin/env bash
# Sets up the machine (idempotent), builds with warnings as errors, and runs every test against real
# Postgres+pgvector and Redis (the fixtures start their own on free ports). Extra arguments go to dotnet test,
# e.g. ./eng/test.sh --filter "FullyQualifiedName~Redis"
set -euo pipefail
cd "$(dirname "$0")/.."
bash eng/setup.sh

results=artifacts/test-results
rm -rf "$results"
dotnet build AspireAi.sln -c Debug -warnaserror -nologo -clp:ErrorsOnly
status=0
dotnet test AspireAi.sln -c Debug --no-build --nologo \
  --logger "trx;LogFilePrefix=aspireai" --logger "console;verbosity=normal" \
  --results-directory "$results" --blame-hang-timeout 10m "$@" || status=$?

# One plain summary line, whatever the runner printed above.
passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  n=$(sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${n:-0}))
done
# The console log above can be long and is often cut; repeat each failure (name, message, top of the stack) last.
if [ "$failed" -gt 0 ]; then
  echo "failed tests:"
  for trx in "$results"/*.trx; do
    [ -f "$trx" ] || continue
    awk '
      function unescape(s) { gsub(/&lt;/, "<", s); gsub(/&gt;/, ">", s); gsub(/&quot;/, "\"", s); gsub(/&apos;/, "\047", s); gsub(/&#xD;/, "", s); gsub(/&#xA;/, "\n", s); gsub(/&amp;/, "\\&", s); return s }
      /<UnitTestResult / {
        failed = ($0 ~ /outcome="Failed"/)
        if (failed) { name = $0; sub(/.* testName="/, "", name); sub(/".*/, "", name); print "  - " unescape(name) }
        section = ""; shown = 0
      }
      failed && /<Message>/ { section = "message"; shown = 0 }
      failed && /<StackTrace>/ { section = "stack"; shown = 0 }
      failed && section != "" {
        line = $0; sub(/^[ \t]*<(Message|StackTrace)>/, "", line); sub(/<\/(Message|StackTrace)>.*/, "", line)
        if (line ~ /[^ \t]/ && shown < (section == "message" ? 20 : 8)) { print "      " unescape(line); shown++ }
        if ($0 ~ /<\/(Message|StackTrace)>/) section = ""
      }
      /<\/UnitTestResult>/ { failed = 0; section = "" }
    ' "$trx"
  done
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$status" -eq 0 ] && [ "$passed" -eq 0 ]; then
  echo "no test ran" >&2; exit 1
fi
exit "$status"
