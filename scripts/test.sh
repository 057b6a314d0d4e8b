#!/usr/bin/env bash
# Runs the test suite of a build (default build/, made by scripts/setup.sh).
#   scripts/test.sh [BUILD_DIR] [extra ctest arguments]
#   DEVSIM_BUILD_TARGET=t ...   build only target t first (with -L native: devsim_native_tests)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${1:-build}"
shift || true
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  echo "test: $build_dir is not configured yet; running scripts/setup.sh" >&2
  DEVSIM_BUILD_DIR="$build_dir" scripts/setup.sh
fi
target=()
[[ -n "${DEVSIM_BUILD_TARGET:-}" ]] && target=(--target "$DEVSIM_BUILD_TARGET")
cmake --build "$build_dir" -j "$(nproc)" "${target[@]}"
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" "$@"
