#!/usr/bin/env bash
# Runs each libFuzzer entry point for a bounded time (seed corpus: the shipped scenarios for the parser).
# Fails if either finds a crash, a leak or a sanitizer report.
#   scripts/run-libfuzzer.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${1:-build-fuzz}"
seconds="${2:-60}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/parser" "$work/hotplug"
cp scenarios/*.scn "$work/parser/"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for target in fuzz_scenario_parser fuzz_hotplug; do
  corpus="$work/${target#fuzz_}"
  [[ $target == fuzz_scenario_parser ]] && corpus="$work/parser"
  echo "== $target, $seconds s"
  (cd "$work" && "$OLDPWD/$build_dir/fuzz/libfuzzer/$target" -max_total_time="$seconds" -print_final_stats=1 "$corpus" 2>&1 |
    grep -E "^Done|stat::number_of_executed_units|ERROR|==[0-9]+==" || true)
  if ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* >/dev/null 2>&1; then
    echo "$target: found a problem; inputs kept in $work"
    trap - EXIT
    exit 1
  fi
done
