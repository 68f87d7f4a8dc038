#!/usr/bin/env bash
# Builds the AppHost and the projects it starts (Debug, as `dotnet run` would) unless nothing changed since this script
# last built them. `dotnet run`'s own up-to-date check of the seven projects took most of the stack's start-up time on
# the 2-core machine even with nothing to rebuild (docs/benchmarks.md, "Startup"). Here the tree's state (commit,
# changed and untracked files with their contents) and the build outputs' timestamps are fingerprinted after each
# build, and an unchanged fingerprint skips the build. Outside a git work tree, or with ASPIREAI_BUILD=1, it builds.
set -euo pipefail
cd "$(dirname "$0")/.."
# The build writes to artifacts/ (UseArtifactsOutput); the stamp lives with what it describes.
stamp=artifacts/obj/build-if-changed.stamp

fingerprint() {
  git rev-parse --is-inside-work-tree >/dev/null 2>&1 || return 1
  {
    git rev-parse HEAD
    git status --porcelain=v1 --untracked-files=all
    git diff HEAD --binary
    git ls-files --others --exclude-standard -z | xargs -0 -r sha256sum
    # Built (or cleaned) by anything else since: build again.
    find artifacts/bin/AspireAi.{AppHost,Api,Workers,Web,Migrator} -maxdepth 2 -name 'AspireAi.*.dll' -printf '%p %T@\n' 2>/dev/null | sort
  } | sha256sum | cut -d' ' -f1
}

if [ "${ASPIREAI_BUILD:-0}" != 1 ] && [ -f "$stamp" ] && current=$(fingerprint) && [ "$current" = "$(cat "$stamp")" ]; then
  exit 0
fi

rm -f "$stamp"
mkdir -p "$(dirname "$stamp")"
dotnet build AppHost -nologo -v quiet -clp:ErrorsOnly
fingerprint > "$stamp" 2>/dev/null || rm -f "$stamp"
