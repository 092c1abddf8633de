# Shared helpers for scripts/test.sh and its steps (sourced, not run).
# Every installer is idempotent: it checks first and installs only what is missing.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ROOT
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
ARTIFACTS=${ARTIFACTS:-$ROOT/artifacts}
mkdir -p "$ARTIFACTS"
export ARTIFACTS

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

_apt_updated=
# ensure_apt PKG...: installs the Debian packages that are not installed yet.
ensure_apt() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} = 0 ] && return 0
  if [ -z "$_apt_updated" ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    _apt_updated=1
  fi
  log "apt-get install ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The project's Python peers live in a venv at $ROOT/.venv (paho-mqtt, websockets, ...).
VENV=$ROOT/.venv
ensure_python_peers() {
  local req=$ROOT/tests/python/requirements.txt stamp=$VENV/.requirements
  if [ ! -x "$VENV/bin/python" ]; then
    log "python3 -m venv $VENV"
    python3 -m venv "$VENV"
  fi
  if ! cmp -s "$req" "$stamp"; then
    log "pip install -r tests/python/requirements.txt"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}

# The project's Node peers (MQTT.js, playwright-core) live in tests/js/node_modules.
ensure_node_peers() {
  command -v npm >/dev/null || ensure_apt nodejs npm
  local dir=$ROOT/tests/js stamp=$ROOT/tests/js/node_modules/.package-lock.json
  if [ ! -f "$stamp" ] || ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.installed-lock"; then
    log "npm ci in tests/js"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$dir/package-lock.json" "$dir/node_modules/.installed-lock"
  fi
  export NODE_PATH=$dir/node_modules
}

# ensure_cargo_install CRATE [BINARY]: cargo install unless BINARY is on PATH.
ensure_cargo_install() {
  local crate=$1 bin=${2:-$1}
  command -v "$bin" >/dev/null && return 0
  log "cargo install $crate"
  cargo install --locked -q "$crate"
}

# The release server binary that the interop tests start; built once.
build_release() {
  log "cargo build --release (server, examples)"
  cargo build --release --workspace --bins --examples
  export REALTIME_SERVER_BIN=$ROOT/target/release/realtime-server
}

# wait_port PORT [SECONDS]: waits until 127.0.0.1:PORT accepts connections.
wait_port() {
  local port=$1 limit=${2:-30} i
  for ((i = 0; i < limit * 10; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  die "nothing listens on 127.0.0.1:$port after ${limit}s"
}

# Cargo test output goes through here so that test.sh can print every summary line.
CARGO_LOG=$ARTIFACTS/cargo-test.log
cargo_test() {
  log "cargo test $*"
  set -o pipefail
  cargo test "$@" 2>&1 | tee -a "$CARGO_LOG"
}
