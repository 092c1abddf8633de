#!/usr/bin/env bash
# Runs the Autobahn|Testsuite with whichever install is available, in this order:
#   1. shared/tools/autobahn beside or above the clone (this team's docker-free install;
#      AUTOBAHN_TOOLS overrides the path)
#   2. `wstest` on PATH
#   3. docker with the crossbario/autobahn-testsuite image
#
#   scripts/autobahn.sh fuzzingclient URL [CASES]   test a server; prints the summary table
#   scripts/autobahn.sh fuzzingserver PORT [CASES]  serve the cases to a client (until killed)
#
# Environment: AUTOBAHN_REPORTS (report dir), AUTOBAHN_EXCLUDE, AUTOBAHN_STRICT,
# AUTOBAHN_TIMEOUT, as in ../shared/tools/autobahn/README.md.
# AUTOBAHN_EXPECT=N (fuzzingclient): also fail unless exactly N cases passed, so that
# UNIMPLEMENTED cases (e.g. no permessage-deflate) cannot pass silently.
set -euo pipefail -o noglob
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:?mode}; target=${2:?url or port}; cases=${3:-*}
tools=${AUTOBAHN_TOOLS:-}
if [ -z "$tools" ]; then
  # ../shared beside the clone, or above it (a git worktree one level deeper).
  for dir in "$ROOT/.." "$ROOT/../.."; do
    if [ -x "$dir/shared/tools/autobahn/run.sh" ]; then tools=$(cd "$dir/shared/tools/autobahn" && pwd); break; fi
  done
fi

# expect_passed OUTPUT_FILE: applies AUTOBAHN_EXPECT to a summary.
expect_passed() {
  [ -z "${AUTOBAHN_EXPECT:-}" ] && return 0
  grep -qx "autobahn: ${AUTOBAHN_EXPECT} passed, 0 failed" "$1" && return 0
  echo "error: expected 'autobahn: ${AUTOBAHN_EXPECT} passed, 0 failed'" >&2
  return 1
}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

if [ -n "$tools" ] && [ -x "$tools/run.sh" ]; then
  [ "$mode" = fuzzingserver ] && exec "$tools/run.sh" "$mode" "$target" "$cases"
  "$tools/run.sh" "$mode" "$target" "$cases" | tee "$out"
  expect_passed "$out"
  exit 0
fi

reports=${AUTOBAHN_REPORTS:-./autobahn-reports}
mkdir -p "$reports" && reports=$(cd "$reports" && pwd)
jlist() { local p out=; for p in ${1//,/ }; do out+="${out:+, }\"$p\""; done; echo "[$out]"; }
common="\"outdir\": \"$reports\", \"cases\": $(jlist "$cases"), \"exclude-cases\": $(jlist "${AUTOBAHN_EXCLUDE:-}"), \"exclude-agent-cases\": {}"
rm -f "$reports/index.json"
if [ "$mode" = fuzzingclient ]; then
  printf '{"servers": [{"url": "%s"}], %s}\n' "$target" "$common" > "$reports/spec.json"
else
  printf '{"url": "ws://127.0.0.1:%s", %s}\n' "$target" "$common" > "$reports/spec.json"
fi
if command -v wstest >/dev/null; then
  run=(wstest -m "$mode" -s "$reports/spec.json")
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  # Host networking so that 127.0.0.1 means this machine; reports written to the same path.
  run=(docker run --rm --network host -v "$reports:$reports" crossbario/autobahn-testsuite
       wstest -m "$mode" -s "$reports/spec.json")
else
  echo "error: no Autobahn|Testsuite: need $tools, wstest on PATH, or a running docker engine" >&2
  exit 2
fi
if [ "$mode" = fuzzingserver ]; then exec "${run[@]}"; fi
timeout --foreground "${AUTOBAHN_TIMEOUT:-3600}" "${run[@]}" || true
python3 "$ROOT/scripts/autobahn_summary.py" "$reports/index.json" | tee "$out"
expect_passed "$out"
