#!/usr/bin/env bash
# Fuzzes the parsers that read what strangers send (shared/fuzz/README.md lists the targets) for a few
# seconds each with libFuzzer, as a regression check: any panic, out-of-memory, oversized
# allocation or hang fails the run, naming the input that caused it.
#
# Usage: scripts/fuzz.sh [TARGET...]            (default: every target in shared/fuzz/fuzz_targets/)
#   FUZZ_SECONDS=20        seconds per target (libFuzzer -max_total_time)
#   FUZZ_RSS_LIMIT_MB=2048 resident memory per target; above it the run fails as out-of-memory
#   FUZZ_MALLOC_LIMIT_MB=512  largest single allocation; a larger one fails the run
#   FUZZ_TIMEOUT=10        seconds one input may take before it counts as a hang
#   FUZZ_ARGS="..."        more libFuzzer flags, e.g. FUZZ_ARGS="-max_len=65536"
#   CARGO_TARGET_DIR       build directory, shared with other builds if set (default shared/fuzz/target)
#   FUZZ_TOOLCHAIN=nightly rustup toolchain that builds the targets
#
# Installs what it needs when missing: the nightly toolchain, a C++ compiler (libFuzzer is C++)
# and cargo-fuzz at a pinned version into .tools/. Each target fuzzes a temporary copy of its
# seed corpus (shared/fuzz/corpus/<target>/), so the committed corpus never grows. A failing input is
# kept in shared/fuzz/artifacts/<target>/ with the run's log beside it; shared/fuzz/README.md says how to
# reproduce it and add it to the corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$SECONDS

cargo_fuzz_version=0.13.2
seconds=${FUZZ_SECONDS:-20}
rss_limit_mb=${FUZZ_RSS_LIMIT_MB:-2048}
malloc_limit_mb=${FUZZ_MALLOC_LIMIT_MB:-512}
timeout=${FUZZ_TIMEOUT:-10}
toolchain=${FUZZ_TOOLCHAIN:-nightly}
target_dir=${CARGO_TARGET_DIR:-$root/fuzz/target}

# The sanitizer and coverage flags cargo-fuzz passes are nightly-only. Without the nightly
# toolchain and without a way to download it (a machine that reaches crates.io only), the
# stable compiler accepts them with RUSTC_BOOTSTRAP=1, which cargo-fuzz supports; stable ships
# the AddressSanitizer runtime too.
if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
  if ! rustup toolchain install "$toolchain" --profile minimal >&2; then
    echo "fuzz: cannot install the $toolchain toolchain; using stable with RUSTC_BOOTSTRAP=1" >&2
    toolchain=stable
    export RUSTC_BOOTSTRAP=1
  fi
fi

if ! command -v c++ >/dev/null 2>&1; then
  scripts/apt-install.sh g++
fi

tools_bin=$root/.tools/bin
if [ ! -x "$tools_bin/cargo-fuzz" ] || ! "$tools_bin/cargo-fuzz" --version 2>/dev/null | grep -qF "$cargo_fuzz_version"; then
  # Its own temporary build directory: a shared CARGO_TARGET_DIR is for the fuzz targets.
  env -u CARGO_TARGET_DIR cargo install --quiet --locked --root .tools cargo-fuzz --version "$cargo_fuzz_version" >&2
fi
export PATH="$tools_bin:$PATH"

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for file in shared/fuzz/fuzz_targets/*.rs; do
    targets+=("$(basename "$file" .rs)")
  done
fi

# Release mode with debug assertions and overflow checks, AddressSanitizer (which also enforces
# -malloc_limit_mb): cargo-fuzz's defaults.
cargo "+$toolchain" fuzz build --fuzz-dir shared/fuzz --target-dir "$target_dir" >&2
host=$(rustc "+$toolchain" -vV | sed -n 's/^host: //p')
bin_dir=$target_dir/$host/release

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# cargo-fuzz runs targets with this; one-definition-rule reports are noise for Rust code.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_odr_violation=0

failed=0
total_execs=0
for target in "${targets[@]}"; do
  seeds=shared/fuzz/corpus/$target
  if [ ! -d "$seeds" ] || [ ! -x "$bin_dir/$target" ]; then
    echo "fuzz: no target $target (shared/fuzz/fuzz_targets/$target.rs and shared/fuzz/corpus/$target/)" >&2
    exit 2
  fi
  # libFuzzer writes the inputs it finds into its first corpus directory: give it a copy.
  corpus=$work/$target
  cp -R "$seeds" "$corpus"
  artifacts=shared/fuzz/artifacts/$target
  mkdir -p "$artifacts"
  log=$work/$target.log
  status=0
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
  "$bin_dir/$target" "$corpus" \
    -max_total_time="$seconds" -timeout="$timeout" \
    -rss_limit_mb="$rss_limit_mb" -malloc_limit_mb="$malloc_limit_mb" \
    -print_final_stats=1 -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  grown=$(find "$corpus" -type f | wc -l)
  if [ "$status" -eq 0 ]; then
    total_execs=$((total_execs + ${execs:-0}))
    printf '%-26s %10s execs in %ss (corpus %d -> %d inputs)\n' \
      "$target" "${execs:-?}" "$seconds" "$(find "$seeds" -type f | wc -l)" "$grown"
  else
    failed=1
    kept=$artifacts/fuzz-$(date +%Y%m%d-%H%M%S).log
    cp "$log" "$kept"
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    echo "$target FAILED (exit $status) after ${execs:-?} execs" >&2
    # The report, from the panic message (or the sanitizer's or libFuzzer's error) on: the
    # message, the stack that led to it and libFuzzer's summary.
    first=$(grep -n -m 1 -E 'panicked at|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)' "$log" | cut -d: -f1 || true)
    sed -n "${first:-1},\$p" "$log" | head -n 100 >&2 || true
    echo "  input: ${artifact:-none written (see the log)}" >&2
    echo "  log:   $kept" >&2
    if [ -n "$artifact" ]; then
      # The built target runs the inputs it is given once each, without fuzzing.
      echo "  reproduce: $bin_dir/$target $artifact" >&2
    fi
  fi
done

echo "fuzz: ${#targets[@]} targets, $total_execs execs, $((SECONDS - started))s in all"
if [ "$failed" -ne 0 ]; then
  echo "fuzz: FAILED (inputs and logs under shared/fuzz/artifacts/)" >&2
  exit 1
fi
