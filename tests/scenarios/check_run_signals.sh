#!/usr/bin/env bash
# SIGINT/SIGTERM during `devsim run` lose no finding: the running exploration stops, its verdict so far (with the
# failures it found) is printed, saved in the JSON and as reproducers, the files after it are skipped, and the exit
# status is 128 + the signal. The signal is sent after an observable event, never after a fixed sleep: the progress
# line (every 10 s when stderr is not a terminal) saying the second scenario has failing executions.
#   check_run_signals.sh DEVSIM SCENARIO_DIR INT|TERM
set -u
devsim="$1"
dir="$2"
sig="$3"
case "$sig" in INT) want=130 ;; TERM) want=143 ;; *) echo "usage: $0 DEVSIM SCENARIO_DIR INT|TERM" >&2; exit 2 ;; esac
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# A quick verdict, then an exploration far too large to end by itself (it finds its bug within its first
# executions), then a file that must not run.
quick="$dir/r01-unplug-while-open-buggy.scn"
long="$dir/usbskel-c-unplug-while-open-buggy.scn"
skipped="$dir/r02-inflight-remove-buggy.scn"
"$devsim" run --preemptions 6 --json "$work/run.json" --save-repro "$work/repro" "$quick" "$long" "$skipped" \
  >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 1800); do
  grep -qE "usbskel-c-unplug-while-open-buggy.scn: [0-9]+ executions .*, [1-9][0-9]* failing" "$work/err" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
grep -qE "usbskel-c-unplug-while-open-buggy.scn: [0-9]+ executions .*, [1-9][0-9]* failing" "$work/err" ||
  { kill -KILL "$pid" 2>/dev/null; fail "no progress line with failing executions within 180 s"; }
kill "-$sig" "$pid"
wait "$pid"
got=$?
[ "$got" -eq "$want" ] || fail "exit status $got after SIG$sig, expected $want"
grep -q "interrupted by SIG$sig" "$work/err" || fail "stderr does not say it was interrupted by SIG$sig"
grep -q "^PASS .*usbskel-c-unplug-while-open-buggy.scn: .*(interrupted by a signal).*the expected bug was found" \
  "$work/out" || fail "no verdict for the interrupted scenario, or it lost its bug"
grep -q "BUG: KASAN: use-after-free in usbskel_" "$work/out" || fail "the interrupted scenario's report is not printed"
grep -q "r02-inflight-remove-buggy" "$work/out" "$work/run.json" && fail "the file after the signal ran"
json="$work/run.json"
[ "$(grep -c '"scenario":' "$json")" -eq 2 ] || fail "the JSON does not hold exactly the two verdicts that ran"
[ "$(grep -c '"interrupted": true' "$json")" -eq 1 ] || fail "the JSON does not mark one verdict interrupted"
grep -q "\"signal\": \"SIG$sig\"" "$json" || fail "the JSON does not name SIG$sig"
grep -q '"signature": "use-after-free[^"]*usbskel' "$json" || fail "the JSON lost the interrupted scenario's failures"
ls "$work/repro"/usbskel-c-unplug-while-open-buggy-repro-1.scn >/dev/null 2>&1 ||
  fail "no reproducer written for the interrupted scenario"
echo "ok: SIG$sig ended the run with exit $got and kept $(grep -c '"signature"' "$work/run.json") failure(s)"
