# Unit, property and in-process integration tests: needs nothing but Rust.
cargo_test --workspace
