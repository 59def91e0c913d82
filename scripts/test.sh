#!/usr/bin/env bash
# The test command README.md gives: installs what the interop tests need (Python `websockets`
# and `h2`, Node `ws`), then runs every test of the workspace and the doctests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Independent peers for the interop tests (Python websockets, Node ws).
python3 -m pip install --quiet --disable-pip-version-check \
  -r crates/ws-tokio/tests/interop/requirements.txt
# Python's `h2` (hyper-h2) for the RFC 8441 interop of crates/ws-h2/tests/interop.rs; its Node
# peer is Node's built-in `http2`, no package.
python3 -m pip install --quiet --disable-pip-version-check \
  -r crates/ws-h2/tests/interop/requirements.txt
# A real browser for crates/sockudo-ws/tests/browser.rs (Debian's chromium).
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ -f crates/ws-tokio/tests/interop/package.json ]; then
  (cd crates/ws-tokio/tests/interop && npm ci --silent --no-audit --no-fund)
fi

# The hostile-peer suite holds ~10,000 connections (two descriptors each): use the hard limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# `external-tests` compiles the tests that need the peers installed above and the raised
# descriptor limit; without it `cargo test --workspace` needs only the Rust toolchain.
features=sockudo-ws/axum-integration,sockudo-ws/tls,sockudo-ws/http2,sockudo-ws/external-tests,ws-h2/external-tests
cargo nextest run --workspace --no-fail-fast --features "$features"
cargo test --workspace --doc --features "$features"
