#!/usr/bin/env bash
# Hostile input for devsim run/replay/list (docs/scenario-language.md, "Limits and errors"): malformed and
# absurd scenarios, special files, absurd command lines. Each case asserts the exact exit status and a text
# (FILE:LINE:COL: message, or the error) in the combined output; every run has a timeout, so a hang fails.
#   check_hostile.sh DEVSIM CASE_DIR SHIPPED_SCENARIO_DIR
set -u
devsim="$1"
dir="$2"
shipped="$3"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0
count=0
out="$work/out"

# expect NAME STATUS TEXT ARGS...: `devsim ARGS` exits STATUS and its output holds TEXT (a fixed string).
expect() {
  local name="$1" status="$2" text="$3"
  shift 3
  count=$((count + 1))
  timeout 60 "$devsim" "$@" >"$out" 2>&1 </dev/null
  local rc=$?
  if [[ $rc -ne $status ]]; then
    echo "FAIL $name: exit status $rc, expected $status: $(head -c 400 "$out")"
    failed=1
  elif ! grep -qF -- "$text" "$out"; then
    echo "FAIL $name: output lacks '$text': $(head -c 400 "$out")"
    failed=1
  else
    echo "ok   $name: $(grep -F -m1 -- "$text" "$out" | head -c 160)"
  fi
}
# check NAME CONDITION-DESCRIPTION COMMAND...: an extra assertion on the last run's files.
check() {
  local name="$1" what="$2"
  shift 2
  count=$((count + 1))
  if "$@"; then echo "ok   $name: $what"; else echo "FAIL $name: $what"; failed=1; fi
}

s="$dir/scn"
fixed="$shipped/r01-unplug-while-open-fixed.scn"
buggy="$shipped/r01-unplug-while-open-buggy.scn"

# --- Item 9: no number wraps around; FILE:LINE:COL, exit 2.
expect preemptions-2p32 2 "$s/preemptions-2p32.scn:6:32: preemptions out of range 0..1000, got '4294967296'" run "$s/preemptions-2p32.scn"
expect preemptions-2p32m1 2 "$s/preemptions-2p32m1.scn:6:32: preemptions out of range 0..1000" run "$s/preemptions-2p32m1.scn"
expect sleep-wrap 2 "$s/sleep-wrap.scn:4:9: duration out of range: at most 3600s, got '18446744074s'" run "$s/sleep-wrap.scn"
expect sleep-exponent 2 "$s/sleep-exponent.scn:4:9: expected a duration like 10ns, 5us, 3ms or 1s, got '1e23s'" run "$s/sleep-exponent.scn"
expect result-u64max 2 "$s/result-u64max.scn:4:27: result out of range -4095..9223372036854775807" run "$s/result-u64max.scn"
expect result-int64min 2 "$s/result-int64min.scn:4:27: result out of range -4095..9223372036854775807" run "$s/result-int64min.scn"
expect irq-wrap 2 "$s/irq-wrap.scn:4:7: an interrupt line out of range 0..1023, got '4294967328'" run "$s/irq-wrap.scn"
expect ioctl-wrap 2 "$s/ioctl-wrap.scn:5:12: an ioctl command out of range 0..4294967295" run "$s/ioctl-wrap.scn"
expect schedule-wrap 2 "$s/schedule-wrap.scn:6:15: a task id out of range 0..4294967293, got '4294967297'" run "$s/schedule-wrap.scn"
expect write-huge 2 "$s/write-huge.scn:5:12: a byte count out of range 0..1048576" run "$s/write-huge.scn"
expect seed-overflow 2 "$s/seed-overflow.scn:6:21: seed out of range 0..18446744073709551615" run "$s/seed-overflow.scn"
expect fail-nth-zero 2 "$s/fail-nth-zero.scn:3:10: fail-nth out of range 1..1000000000, got '0'" run "$s/fail-nth-zero.scn"
# --- Item 7: bounded exploration settings.
expect pct-depth-huge 2 "$s/pct-depth-huge.scn:6:19: depth out of range 1..64, got '2000000000'" run "$s/pct-depth-huge.scn"
expect executions-huge 2 "$s/executions-huge.scn:6:27: executions out of range 0..1000000000" run "$s/executions-huge.scn"
expect executions-zero-random 2 "$s/executions-zero-random.scn:6:27: executions=0 (until the search ends) is only for explore exhaustive" run "$s/executions-zero-random.scn"
expect steps-too-small 2 "$s/steps-too-small.scn:6:22: steps out of range 100..10000000000" run "$s/steps-too-small.scn"
expect time-limit 0 "(stopped by the time limit)" run --brief --time 0.3 "$s/long-exhaustive.scn"
# Unbounded exhaustive search shows progress (off a terminal: a line every 10 seconds, on stderr).
expect progress-line 0 "/s), 0 failing, 0 distinct, 10 s" run --brief --time 10.5 "$s/long-exhaustive.scn"
# --- Item 10: names.
expect long-task-name 2 "$s/long-task-name.scn:3:6: a task name is longer than 64 bytes" run "$s/long-task-name.scn"
expect quoted-task-name 2 "$s/quoted-task-name.scn:3:6: expected a task name, got the quoted string '\"two words\"'" run "$s/quoted-task-name.scn"
expect quoted-variable 2 "$s/quoted-variable.scn:4:3: expected a variable, got the quoted string" run "$s/quoted-variable.scn"
expect task-name-digit 2 "$s/task-name-digit.scn:3:6: a task name '9lives' must start with a letter" run "$s/task-name-digit.scn"
expect utf8-task-name 2 "$s/utf8-task-name.scn:3:7: unexpected character 'é'" run "$s/utf8-task-name.scn"
expect device-id-bad 2 "$s/device-id-bad.scn:2:12: a device id '1/1' may hold only letters, digits" run "$s/device-id-bad.scn"
# --- Item 11: devices.
expect duplicate-device 2 "$s/duplicate-device.scn:3:12: device usb 1-1 is already declared at line 2" run "$s/duplicate-device.scn"
expect device-unknown-driver 2 "$s/device-unknown-driver.scn:2:16: unknown driver 'no_such_driver' as modalias" run "$s/device-unknown-driver.scn"
expect plug-unknown-driver 2 "$s/plug-unknown-driver.scn:4:16: unknown driver 'no_such_driver' as modalias" run "$s/plug-unknown-driver.scn"
expect unknown-errno 2 "$s/unknown-errno.scn:4:27: unknown errno '-ENOPE'" run "$s/unknown-errno.scn"
# --- Item 17 and the smaller list: bytes that are not UTF-8 text.
expect non-utf8-comment 2 "$s/non-utf8-comment.scn:3:6: byte \\xA5 is not UTF-8" run "$s/non-utf8-comment.scn"
expect nul-byte 2 "$s/nul-byte.scn:4:5: control byte \\x00" run "$s/nul-byte.scn"
weird="$work/caf$(printf '\xff').scn"
cp "$fixed" "$weird"
expect non-utf8-file-name 0 "PASS $work/caf\\xFF.scn" run --brief --json "$work/weird.json" "$weird"
check non-utf8-file-name-json "the JSON names the file escaped" grep -qF "caf\\\\xFF.scn" "$work/weird.json"
# One bad file does not stop the later ones: exit 2, and the good file still runs.
expect bad-then-good 2 "PASS $fixed" run --brief "$work/missing.scn" "$fixed"
expect bad-then-good-error 2 "$work/missing.scn:0:0: cannot open: No such file or directory" run --brief "$work/missing.scn" "$fixed"

# --- Item 6: a file at the size limit parses in linear time (the benchmark measures it; here: the error is right).
big="$work/big-unknown-variable.scn"
{
  echo "driver r01_unplug_open_fixed"
  echo "task a {"
  for i in $(seq 1 60000); do echo "  v$i = yield"; done
  echo "  close v60001"
  echo "}"
} >"$big"
expect big-unknown-variable 2 "$big:60003:9: unknown variable 'v60001'; did you mean 'v10001'?" run "$big"
huge_word="$work/huge-word.scn"
{ printf 'x%.0s' $(seq 100000); echo; } >"$huge_word"
expect huge-word-truncated 2 "...(100000 bytes)'" run "$huge_word"
check huge-word-short-message "the message is under 400 bytes" test "$(wc -c <"$out")" -lt 400
over="$work/over-limit.scn"
head -c 1048577 /dev/zero | tr '\0' '#' >"$over"
expect over-size-limit 2 "$over:0:0: is larger than the limit of 1048576 bytes (1 MiB) for a scenario" run "$over"
many="$work/many-tasks.scn"
{
  echo "driver r01_unplug_open_fixed"
  for i in $(seq 1 1025); do printf 'task t%d {\n  yield\n}\n' "$i"; done
} >"$many"
expect too-many-tasks 2 "$many:3074:1: more than 1024 tasks (a devsim limit" run "$many"

# --- Item 5: special files: a clear error, at once, never a block.
mkfifo "$work/fifo.scn"
expect fifo 2 "$work/fifo.scn:0:0: is a FIFO; a scenario is read only from a regular file" run "$work/fifo.scn"
expect dev-zero 2 "/dev/zero:0:0: is a character device" run /dev/zero
expect directory 2 "$work:0:0: is a directory" run "$work"
expect proc-self-mem 2 "/proc/self/mem:0:0: cannot read: Input/output error" run /proc/self/mem

# --- Item 8: devsim limits are not bug reports.
expect step-budget-limit 2 "devsim limit: the step budget of 100 scheduling points per execution ran out in 3 execution(s)" run --brief "$s/livelock-budget.scn"
expect step-budget-limit-status 2 "LIMIT $s/livelock-budget.scn" run --brief "$s/livelock-budget.scn"
expect step-budget-override 0 "PASS $s/livelock-budget.scn" run --brief --step-budget 10000 "$s/livelock-budget.scn"
long="$work/long-task.scn"
{
  echo "driver r01_unplug_open_fixed"
  echo "task a {"
  for i in $(seq 1 120000); do echo "  yield"; done
  echo "}"
  echo "explore random executions=1"
} >"$long"
expect long-task-default-budget 0 "PASS $long" run --brief "$long"

# --- Item 9, command line: every number range-checked, exit 2.
expect cli-seed-negative 2 "devsim: --seed: expected a number, got '-1'" run --seed -1 "$fixed"
expect cli-seed-overflow 2 "devsim: --seed: out of range 0..18446744073709551615, got '18446744073709551616'" run --seed 18446744073709551616 "$fixed"
expect cli-executions-negative 2 "devsim: --executions: expected a number, got '-5'" run --executions -5 "$fixed"
expect cli-executions-zero-random 2 "--executions 0 (until the search ends) is only for --strategy exhaustive" run --strategy random --executions 0 "$fixed"
expect cli-executions-zero-scenario 2 "--executions 0 (until the search ends) is only for exhaustive search" run --executions 0 "$s/livelock-budget.scn"
expect cli-preemptions-negative 2 "devsim: --preemptions: expected a number, got '-5'" run --preemptions -5 "$fixed"
expect cli-pct-depth-zero 2 "devsim: --pct-depth: out of range 1..64, got '0'" run --pct-depth 0 "$fixed"
expect cli-time-negative 2 "devsim: --time: out of range" run --time -1 "$fixed"
expect cli-time-zero 2 "devsim: --time: out of range" run --time 0 "$fixed"
expect cli-time-nan 2 "devsim: --time: expected a number of seconds" run --time nan "$fixed"
expect cli-step-budget-small 2 "devsim: --step-budget: out of range 100..10000000000" run --step-budget 10 "$fixed"
expect cli-bogus 2 "--bogus" --bogus
expect cli-no-command 2 "devsim: a command is required" -v
expect list-nonexistent 2 "devsim list: cannot read the scenario directory /nonexistent" list --scenarios /nonexistent

# --- Item 12: a replay whose schedule does not fit is an error saying where, never PASS.
t99="$work/replay-t99.scn"
{ cat "$fixed"; echo 'schedule "t99"'; } >"$t99"
line=$(grep -n '^schedule' "$t99" | cut -d: -f1)
expect replay-unknown-task 2 "$t99:$line:11: the recorded schedule does not fit: it diverged at choice 1 ('t99'): task t99 could not run there" replay --brief "$t99"
expect replay-unknown-task-status 2 "ERROR $t99" replay --brief "$t99"
mkdir "$work/repro"
"$devsim" run --brief --save-repro "$work/repro" "$buggy" >/dev/null 2>&1
repro="$work/repro/r01-unplug-while-open-buggy-repro-1.scn"
check save-repro-written "the reproducer is written" test -f "$repro"
extra="$work/replay-extra.scn"
sed 's/^schedule "\(.*\)"$/schedule "\1 t1 t1 t1"/' "$repro" >"$extra"
expect replay-extra-choices 2 "the recorded schedule does not fit: the execution ended after" replay --brief "$extra"
expect replay-fits 1 "FAIL $repro: replayed 1 execution" replay --brief "$repro"
# --- Item 16 (run): --save-repro never overwrites: a second run writes the next free name.
"$devsim" run --brief --save-repro "$work/repro" "$buggy" >/dev/null 2>&1
n1=$(ls "$work/repro" | wc -l)
check save-repro-no-overwrite "a second run adds reproducers instead of overwriting ($n1 files)" test "$n1" -ge 2 -a -f "$work/repro/r01-unplug-while-open-buggy-repro-2.scn"
check save-repro-first-unchanged "the first reproducer is unchanged" cmp -s "$repro" <(sed 's/^schedule "\(.*\) t1 t1 t1"$/schedule "\1"/' "$extra")
# --- Item 3 (run): a run killed part-way keeps the verdicts it printed (stdout flushed, JSON rewritten per
# verdict). The second scenario runs far longer than the 20 s after which it is killed.
timeout -s TERM 20 "$devsim" run --brief --json "$work/partial.json" "$fixed" "$s/long-exhaustive.scn" --time 600 \
  >"$work/partial.out" 2>&1
check killed-run-keeps-verdict "the first verdict is on stdout though the run was killed" grep -qF "PASS $fixed" "$work/partial.out"
check killed-run-keeps-json "and in the JSON" grep -qF '"status": "PASS"' "$work/partial.json"
# --- Smaller: the trace says what its timestamps are.
expect trace-written 0 "PASS $buggy" run --brief --trace "$work/trace.json" "$buggy"
check trace-declares-unit "the trace declares its ts unit" grep -qF '"ts_unit":"event sequence number' "$work/trace.json"

echo "$count hostile cases checked"
exit $failed
