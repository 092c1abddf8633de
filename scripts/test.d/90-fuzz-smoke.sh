# A short run of every cargo-fuzz target (FUZZ_SECONDS each, default 15).
ensure_cargo_install cargo-fuzz
export RUSTC_BOOTSTRAP=1
seconds=${FUZZ_SECONDS:-15}
cd "$ROOT/fuzz"
targets=$(cargo fuzz list)
[ -n "$targets" ] || die "no fuzz targets"
log "cargo fuzz build -O"
cargo fuzz build -O
for t in $targets; do
  log "fuzz $t for ${seconds}s"
  # New inputs go to a scratch dir; the committed corpus (fuzz/corpus/<target>) is read too.
  scratch=$ROOT/fuzz/target/smoke-corpus/$t
  mkdir -p "$scratch" "corpus/$t"
  flog=$ARTIFACTS/fuzz-$t.log
  if ! cargo fuzz run -O "$t" "$scratch" "corpus/$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 >"$flog" 2>&1; then
    tail -n 60 "$flog"
    die "fuzz target $t failed (log: $flog, input: fuzz/artifacts/$t)"
  fi
  grep -E '^Done [0-9]+ runs' "$flog" || tail -n 3 "$flog"
done
