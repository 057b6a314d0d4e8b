#!/usr/bin/env bash
# README's quick start: the R1 buggy scenario prints a use-after-free naming the ioctl, allocated by the probe's
# devm_kzalloc and freed by the devres release in the unplugging task, and exits 0 (the bug it declares);
# without its expectation it exits 1; the fixed variant prints no report and exits 0.
#   check_r01.sh DEVSIM SCENARIO_DIR
set -u
devsim="$1"
dir="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

out="$("$devsim" run "$dir/r01-unplug-while-open-buggy.scn")"; rc=$?
[[ $rc -eq 0 ]] || fail "buggy scenario exit status $rc, expected 0"
grep -q "BUG: KASAN: use-after-free in .*_ioctl\|BUG: KASAN: use-after-free in .*_release" <<<"$out" || fail "no use-after-free report in the ioctl/release: $out"
# The stack under "Allocated by" starts at the allocator (devm_kzalloc), the probe is among its first frames.
grep -A3 "^Allocated by task" <<<"$out" | grep -q "_probe (drivers/" || fail "Allocated by does not name the probe"
grep -A8 "^Freed by task hub" <<<"$out" | grep -q "devres_release_all" || fail "Freed by does not name the devres release in the hub task"

grep -v '^[[:space:]]*expect' "$dir/r01-unplug-while-open-buggy.scn" >"$work/no-expect.scn"
"$devsim" run --brief "$work/no-expect.scn" >/dev/null; rc=$?
[[ $rc -eq 1 ]] || fail "without its expectation: exit status $rc, expected 1"

out="$("$devsim" run "$dir/r01-unplug-while-open-fixed.scn")"; rc=$?
[[ $rc -eq 0 ]] || fail "fixed scenario exit status $rc, expected 0"
grep -q "BUG:" <<<"$out" && fail "the fixed scenario printed a report: $out"
echo "ok: buggy exits 0 with the report, 1 without its expectation; fixed exits 0 with no report"
