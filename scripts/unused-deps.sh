#!/usr/bin/env bash
# Fails when a crate of the workspace declares a dependency its code never uses. The checker,
# cargo-machete (crates.io), is installed once into .tools/ at a pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.9.2
bin=.tools/bin/cargo-machete
if [ ! -x "$bin" ] || ! "$bin" --version 2>/dev/null | grep -qF "$version"; then
  cargo install --quiet --locked --root .tools cargo-machete --version "$version" >&2
fi
"$bin" --with-metadata
