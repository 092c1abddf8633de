# Formatting and lints: clippy warnings are errors.
log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --all-features -- -D warnings
