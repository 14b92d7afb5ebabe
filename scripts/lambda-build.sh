#!/usr/bin/env bash
# Builds every Lambda function of template.yaml as AWS runs it: `cargo lambda build --release
# --arm64 --output-format zip`, one cargo invocation for all of them (so features unify across
# the functions only, never with the `causeloop` command or the tests). Prints each zip's size
# and fails if one is over the limit.
#
#   scripts/lambda-build.sh [--x86-64] [--strict] [--max-bytes N]
#
# The list of binaries is the template's (`BuildProperties: Binary:`, read by
# scripts/template_functions.py), so a function added to the template is built here with no
# edit. A binary of the template without a crate in the workspace (a function whose code is not
# merged yet) is reported and skipped; --strict makes that fatal.
# A binary crate under functions/ that the template does not deploy is an error: functions/ holds
# exactly the deployed functions.
#
# Needs cargo-lambda and zig on PATH: `export PATH="$(scripts/lambda-deps.sh):$PATH"`.
# Zips land in ${CARGO_TARGET_DIR:-target}/lambda/<binary>/bootstrap.zip.
set -euo pipefail
cd "$(dirname "$0")/.."

arch=(--arm64)
strict=0
# Lambda takes 50 MB zipped; ours are about 4 MB. 8 MB (decimal) is the project's own ceiling: a
# zip that grows past it has picked up something that every cold start pays for.
max_bytes=8000000
while [ $# -gt 0 ]; do
  case "$1" in
    --x86-64) arch=(--x86-64) ;;
    --strict) strict=1 ;;
    --max-bytes) max_bytes="$2"; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

command -v cargo-lambda >/dev/null || { echo "cargo-lambda is not on PATH (see scripts/lambda-deps.sh)" >&2; exit 1; }

template_bins=$(python3 scripts/template_functions.py --binaries)

# "<binary> <package> <manifest dir>" for every binary target of the workspace.
workspace_bins=$(cargo metadata --no-deps --format-version 1 --locked | python3 -c '
import json, os, sys
meta = json.load(sys.stdin)
for package in meta["packages"]:
    for target in package["targets"]:
        if "bin" in target["kind"]:
            print(target["name"], package["name"], os.path.dirname(package["manifest_path"]))
')

status=0
packages=()
built=()
missing=()
for bin in $template_bins; do
  package=$(awk -v b="$bin" '$1 == b {print $2}' <<<"$workspace_bins")
  if [ -z "$package" ]; then
    missing+=("$bin")
  else
    packages+=(-p "$package")
    built+=("$bin")
  fi
done
here=$(pwd)
while read -r bin package dir; do
  case "$dir" in "$here"/functions/*) ;; *) continue ;; esac
  if ! grep -qx "$bin" <<<"$template_bins"; then
    echo "error: functions/ builds the binary '$bin' but template.yaml deploys no function with Binary: $bin" >&2
    status=1
  fi
done <<<"$workspace_bins"
[ "$status" -eq 0 ] || exit "$status"
for bin in "${missing[@]}"; do
  echo "warning: template.yaml names Binary '$bin' but no workspace crate builds it; skipped" >&2
done
[ "${#built[@]}" -gt 0 ] || { echo "nothing to build" >&2; exit 1; }

start=$(date +%s)
cargo lambda build --release "${arch[@]}" --output-format zip --locked "${packages[@]}"
echo "cargo lambda build: $(( $(date +%s) - start )) s for ${#built[@]} functions (${arch[*]})"

lambda_dir="${CARGO_TARGET_DIR:-target}/lambda"
printf '%-12s %12s %14s\n' function "zip bytes" "binary bytes"
for bin in "${built[@]}"; do
  zip="$lambda_dir/$bin/bootstrap.zip"
  if [ ! -f "$zip" ]; then
    echo "error: $zip was not produced" >&2
    status=1
    continue
  fi
  size=$(stat -c %s "$zip")
  unpacked=$(python3 -c 'import sys, zipfile; print(sum(i.file_size for i in zipfile.ZipFile(sys.argv[1]).infolist()))' "$zip")
  flag=""
  if [ "$size" -gt "$max_bytes" ]; then
    flag="  OVER the ${max_bytes}-byte limit"
    status=1
  fi
  printf '%-12s %12d %14d%s\n' "$bin" "$size" "$unpacked" "$flag"
done
for bin in "${missing[@]}"; do
  printf '%-12s %12s\n' "$bin" "not built (no crate)"
  [ "$strict" -eq 0 ] || status=1
done
exit "$status"
