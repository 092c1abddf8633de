# Tests against real peers and the release binary (feature `interop`).
ensure_python_peers
ensure_node_peers
build_release
cargo_test -p realtime-tests --features interop
