#!/usr/bin/env bash
# Builds docs/writing-a-driver.md's walk-through (examples/my-driver) out of tree against an installed devsim,
# and checks that its scenario finds the driver's bug.
#   scripts/test-out-of-tree.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${1:-build}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cp -r examples/my-driver "$work/my-driver"
cmake -S "$work/my-driver" -B "$work/my-driver/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/my-driver/build"
"$work/my-driver/build/my-devsim" run "$work/my-driver/my-sensor-unplug.scn"
echo "out-of-tree driver: built against the installed package, and its scenario found the bug"
