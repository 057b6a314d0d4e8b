#!/usr/bin/env bash
# Runs the test suite of a build (default build/, made by scripts/setup.sh).
#   scripts/test.sh [BUILD_DIR] [extra ctest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${1:-build}"
shift || true
if [[ ! -f "$build_dir/CTestTestfile.cmake" ]]; then
  echo "test: $build_dir is not configured; run scripts/setup.sh first" >&2
  exit 2
fi
cmake --build "$build_dir" -j "$(nproc)"
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" "$@"
