# shellcheck shell=bash
# Shared by deploy/run and deploy/test: idempotent setup (each step skips what is already
# there) and the plain-cargo build of the site. See ARCHITECTURE.md, "Build", for why this
# is plain cargo + wasm-bindgen rather than cargo-leptos.
set -euo pipefail
# Errors inside $(...) must stop the script too.
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Builds live outside the clone so a fresh clone (CI) reuses them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf '\nerror: %s\n' "$*" >&2; exit 1; }

# The wasm-bindgen CLI must match the crate version in Cargo.lock exactly.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

APT_UPDATED=0
# apt_install PKG...: installs Debian packages when apt is available (root or sudo).
apt_install() {
  local sudo=""
  if ! command -v apt-get >/dev/null 2>&1; then
    return 1
  fi
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else return 1; fi
  fi
  if [ "$APT_UPDATED" = 0 ]; then
    $sudo apt-get update -qq >&2 && APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >&2
}

ensure_wasm_target() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
}

ensure_wasm_bindgen() {
  local want; want="$(wasm_bindgen_version)"
  [ -n "$want" ] || die "cannot read the wasm-bindgen version from Cargo.lock"
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $want\$"; then
    log "installing wasm-bindgen-cli $want (about 4 minutes, once)"
    # Not --locked: the locked build wants a crate version the registry mirror lacks.
    cargo install wasm-bindgen-cli --version "$want" --force
  fi
}

ensure_command() { # ensure_command CMD DEBIAN_PACKAGE WHAT_FOR
  local cmd="$1" pkg="$2" why="$3"
  command -v "$cmd" >/dev/null 2>&1 && return 0
  log "installing $pkg ($why)"
  apt_install "$pkg" || die "$cmd is missing and could not be installed with apt-get: install \
the package that provides '$cmd' ($why) and run again"
  command -v "$cmd" >/dev/null 2>&1 || die "$pkg installed but '$cmd' is still not on PATH"
}

ensure_npm_packages() {
  command -v npm >/dev/null 2>&1 || ensure_command npm npm "the end-to-end test runner"
  # npm ci only when the lock changed since the last install.
  if [ ! -f end2end/node_modules/.package-lock.json ] ||
    [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    log "installing end2end npm packages"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
}

# build_site debug|release: builds the server binary and the hydrate bundle, and lays out
# the site (pkg/sluice.js, pkg/sluice.wasm, pkg/sluice.css, public assets) in $SITE.
# Called directly (not in $(...)) so a failed build stops the caller.
build_site() {
  local mode="$1" server_flags=() wasm_profile wasm_dir
  if [ "$mode" = release ]; then
    server_flags=(--release); wasm_profile=wasm-release; wasm_dir=wasm-release
  else
    wasm_profile=dev; wasm_dir=debug
  fi
  SITE="$CARGO_TARGET_DIR/site-$mode"
  local site="$SITE"
  log "building the server ($mode)"
  cargo build -p sluice-server "${server_flags[@]}" >&2
  log "building the browser bundle ($wasm_profile)"
  cargo build -p sluice-frontend --target wasm32-unknown-unknown --profile "$wasm_profile" >&2
  mkdir -p "$site/pkg"
  wasm-bindgen --target web --no-typescript --out-dir "$site/pkg" --out-name sluice \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/$wasm_dir/sluice_frontend.wasm" >&2
  # The server (built with LEPTOS_OUTPUT_NAME=sluice) asks for /pkg/sluice.wasm.
  mv -f "$site/pkg/sluice_bg.wasm" "$site/pkg/sluice.wasm"
  # Release bundles go through npm's binaryen wasm-opt (Debian's binaryen 108 breaks the
  # bundle: see shared/TOOLCHAIN.md). Without npm the bundle works, only larger.
  local wasm_opt="$ROOT/end2end/node_modules/.bin/wasm-opt"
  if [ "$mode" = release ] && [ -x "$wasm_opt" ]; then
    log "optimizing the browser bundle for size (wasm-opt -Oz)"
    "$wasm_opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
      --enable-mutable-globals --enable-reference-types --enable-multivalue \
      -o "$site/pkg/sluice.opt.wasm" "$site/pkg/sluice.wasm" >&2
    mv -f "$site/pkg/sluice.opt.wasm" "$site/pkg/sluice.wasm"
  fi
  cp style/main.css "$site/pkg/sluice.css"
  cp -R public/. "$site/"
}

server_bin() { # server_bin debug|release
  echo "$CARGO_TARGET_DIR/$1/sluice"
}

# For the benchmark scripts: background processes they start (PIDS) and their stop, and
# waiting for an HTTP endpoint to answer (RUN_DIR holds the logs named in the error).
PIDS=()
stop_all() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}

wait_http() { # wait_http URL WHAT
  for _ in $(seq 1 120); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.5
  done
  die "$2 did not come up at $1 (logs in ${RUN_DIR:-the run directory})"
}
