#!/usr/bin/env bash
# The whole test suite: installs the third-party peers it needs (idempotently) and
# runs every step in scripts/test.d/ in order: lint, unit and property tests, the
# interop tests against real peers, the conformance suites and a fuzz smoke run.
#
#   scripts/test.sh              every step
#   scripts/test.sh unit lint    only the steps whose file name contains one of the words
#
# A step that fails stops the run (exit status non-zero); a missing peer is a failure.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
: > "$CARGO_LOG"

steps=()
for f in scripts/test.d/*.sh; do
  if [ $# = 0 ]; then steps+=("$f"); continue; fi
  for w in "$@"; do case $f in *"$w"*) steps+=("$f"); break ;; esac; done
done
[ ${#steps[@]} -gt 0 ] || die "no step matches: $*"

start=$(date +%s)
summary() {
  local rc=$?
  printf '\n==> cargo test summary lines\n'
  grep -E '^test result:|^error: test failed' "$CARGO_LOG" || true
  printf '\n==> %s after %ss (%s)\n' "$([ $rc = 0 ] && echo PASSED || echo FAILED)" "$(( $(date +%s) - start ))" "${current:-}"
}
trap summary EXIT

for step in "${steps[@]}"; do
  current=$step
  t0=$(date +%s)
  log "step $step"
  # shellcheck disable=SC1090
  ( source "$step" )
  log "step $step done in $(( $(date +%s) - t0 ))s"
done
current="all steps"
