#!/usr/bin/env bash
# devsim stress on every shipped scenario (real OS threads):
# - every fixed shipped scenario (C drivers, signals and USB device events included) runs ITERATIONS iterations
#   with no report (exit 0);
# - a signal ends an interruptible sleep (-EINTR), and sleepers left at the deadline are killed, not a hang;
# - in an ASan build, the buggy R3, R14 and three C drivers are caught by ASan (a non-zero exit other than 2);
# - --threads N splits the iterations among N worker processes, and the first failure stops the run;
# - bad options exit 2; an iteration that hangs (blocking-read-buggy's reader) is a devsim limit: exit 2, LIMIT.
#   check_stress.sh DEVSIM SCENARIO_DIR [ITERATIONS]
set -u
devsim="$1"
dir="$2"
iterations="${3:-300}"
fail() { echo "FAIL: $*"; exit 1; }

asan=1
"$devsim" stress --iterations 1 "$dir/r01-unplug-while-open-fixed.scn" 2>&1 >/dev/null | grep -q "has no ASan" && asan=0

native_fixed=0
for scn in "$dir"/*.scn; do
  name="$(basename "$scn" .scn)"
  [[ "$name" == *-buggy ]] && continue
  err="$("$devsim" stress --iterations "$iterations" --sleep-scale 0.1 "$scn" 2>&1 >/dev/null)"; rc=$?
  [[ $rc -eq 0 ]] || fail "$name: exit $rc on real threads: $err"
  native_fixed=$((native_fixed + 1))
done
[[ $native_fixed -ge 31 ]] || fail "only $native_fixed fixed scenarios ran natively"

# Signals natively (core::NativeSignalTarget): the read returns -EINTR, checked as a result.
fixtures="$(dirname "$0")/stress"
# A read the signal did not end would sleep to the deadline and be killed there (its result then unchecked): the
# PASS line must not say so.
out="$("$devsim" stress --check-results --iterations 20 "$fixtures/signal-ends-read.scn" 2>/dev/null)"; rc=$?
[[ $rc -eq 0 ]] || fail "signal-ends-read: exit $rc: $out"
grep -q "^PASS .*: 20 iteration(s) on real threads, no report ([0-9.]* s)$" <<<"$out" ||
  fail "signal-ends-read: the signal did not end the read: $out"
out="$("$devsim" stress --iterations 2 --iteration-timeout 0.3 "$fixtures/sleeper-killed.scn" 2>/dev/null)"; rc=$?
[[ $rc -eq 0 ]] || fail "sleeper-killed: exit $rc (the sleeper was not killed at the deadline): $out"
grep -q "^PASS .*: 2 iteration(s) .*; in 2 of them the tasks left asleep were killed at the deadline" <<<"$out" ||
  fail "sleeper-killed: no kill counted: $out"

if [[ $asan -eq 1 ]]; then
  # Use-after-frees in kernel code that real threads hit within a few iterations: fput on the cdev embedded in freed
  # driver data (R3), the timer softirq on a timer in freed data (R14). A use-after-free in driver code itself (R1's
  # ioctl) is not seen: in this build the drivers carry the simulator's instrumentation, not ASan's.
  # The C ABI's code is ASan's too: the mailbox's copy_to_user from the mailbox module_exit freed, the pulse timer
  # firing in the freed driver data, usbskel's usb_submit_urb on the URB disconnect freed (within a few iterations).
  for name in r03-two-lifecycles-buggy r14-watchdog-timer-buggy mailbox-c-unload-while-open-buggy \
              pulse-c-irq-during-remove-buggy usbskel-c-unplug-while-open-buggy; do
    "$devsim" stress --iterations 2000 --sleep-scale 0.1 "$dir/$name.scn" >/dev/null 2>&1; rc=$?
    [[ $rc -ne 0 && $rc -ne 2 ]] || fail "$name: ASan did not stop it natively (exit $rc)"
  done
  out="$("$devsim" stress --threads 2 --iterations 2000 --sleep-scale 0.1 "$dir/r03-two-lifecycles-buggy.scn" 2>/dev/null)"
  rc=$?
  [[ $rc -eq 1 ]] || fail "r03 in 2 workers: exit $rc, expected 1"
  grep -q "^FAIL .*r03-two-lifecycles-buggy.scn: worker [01] (seed [12]) .*the others were stopped" <<<"$out" ||
    fail "r03 in 2 workers: no FAIL line naming the worker: $out"
fi

out="$("$devsim" stress --threads 3 --iterations 31 --sleep-scale 0.1 "$dir/r01-unplug-while-open-fixed.scn" 2>/dev/null)"
rc=$?
[[ $rc -eq 0 ]] || fail "3 workers on a fixed scenario: exit $rc"
grep -q "^PASS .*r01-unplug-while-open-fixed.scn: 31 iteration(s) on real threads in 3 worker processes" <<<"$out" ||
  fail "3 workers: the iterations are not counted over the workers: $out"
for bad in "--threads 0" "--threads 257"; do
  # shellcheck disable=SC2086
  "$devsim" stress $bad "$dir/r01-unplug-while-open-fixed.scn" >/dev/null 2>&1; rc=$?
  [[ $rc -eq 2 ]] || fail "$bad: exit $rc, expected 2"
done

"$devsim" stress --iterations 0 "$dir/r01-unplug-while-open-fixed.scn" >/dev/null 2>&1; rc=$?
[[ $rc -eq 2 ]] || fail "--iterations 0: exit $rc, expected 2"
"$devsim" stress --max-delay-us x "$dir/r01-unplug-while-open-fixed.scn" >/dev/null 2>&1; rc=$?
[[ $rc -eq 2 ]] || fail "--max-delay-us x: exit $rc, expected 2"
for bad in "--sleep-scale -1" "--sleep-scale nan" "--iteration-timeout 0" "--seed -1" "--iterations 1e9"; do
  # shellcheck disable=SC2086
  "$devsim" stress $bad "$dir/r01-unplug-while-open-fixed.scn" >/dev/null 2>&1; rc=$?
  [[ $rc -eq 2 ]] || fail "$bad: exit $rc, expected 2"
done
# A scale of 0: the scenario's sleeps are skipped, which is allowed.
"$devsim" stress --iterations 3 --sleep-scale 0 "$dir/r01-unplug-while-open-fixed.scn" >/dev/null 2>&1; rc=$?
[[ $rc -eq 0 ]] || fail "--sleep-scale 0: exit $rc, expected 0"
"$devsim" stress "$dir/no-such-file.scn" >/dev/null 2>&1; rc=$?
[[ $rc -eq 2 ]] || fail "a missing file: exit $rc, expected 2"
out="$("$devsim" stress --iterations 1 --iteration-timeout 0.5 "$dir/blocking-read-buggy.scn" 2>/dev/null)"; rc=$?
[[ $rc -eq 2 ]] || fail "a hanging iteration: exit $rc, expected 2"
grep -q "^LIMIT .*blocking-read-buggy.scn: iteration 1 has not finished" <<<"$out" || fail "no LIMIT line: $out"
out="$("$devsim" stress --threads 2 --iterations 2 --iteration-timeout 0.5 "$dir/blocking-read-buggy.scn" 2>/dev/null)"
rc=$?
[[ $rc -eq 2 ]] || fail "a hanging iteration in 2 workers: exit $rc, expected 2"
grep -q "^LIMIT .*blocking-read-buggy.scn: iteration 1 has not finished" <<<"$out" || fail "no LIMIT line (2 workers): $out"
echo "ok: $native_fixed fixed scenarios clean natively ($iterations iterations each), asan=$asan"
