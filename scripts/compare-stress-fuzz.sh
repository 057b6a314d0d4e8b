#!/usr/bin/env bash
# What the simulator gains over native stress, measured (docs/performance.md, "Native stress against the fuzzer"):
# for every shipped buggy scenario that runs natively, RUNS runs of `devsim stress` in a build whose drivers ASan
# instruments, and RUNS runs of `devsim fuzz --stop-at-first` on the scenario's driver in the default build, each
# capped at CAP seconds. Prints one table row per scenario: how many runs found a report, and the median time to it.
#   scripts/compare-stress-fuzz.sh NATIVE_DEVSIM SIM_DEVSIM [RUNS] [CAP] [NAME_REGEX]
#   NATIVE_DEVSIM: built with DEVSIM_BUILD_TARGET=devsim DEVSIM_BUILD_DIR=build-asan-native scripts/setup.sh \
#                  -DDEVSIM_SANITIZE=address -DDEVSIM_INSTRUMENT=OFF -DDEVSIM_BUILD_BENCH=OFF -DDEVSIM_BUILD_TESTS=OFF
set -u
native="$1"
sim="$2"
runs="${3:-10}"
cap="${4:-10}"
only="${5:-.}"  # the scenarios whose names match this extended regex
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
# An iteration still running after this is a hang (LIMIT): devsim stress's default, or the cap if shorter.
itimeout="$cap"
[[ "${cap%.*}" -gt 10 ]] && itimeout=10
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) printf "%.3f\n", a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

echo "| scenario | stress (ASan): found | stress: median s to report | fuzz: found | fuzz: median s to first bug |"
echo "| --- | ---: | ---: | ---: | ---: |"
for scn in scenarios/*-buggy.scn; do
  name="$(basename "$scn" .scn)"
  grep -qE "$only" <<<"$name" || continue
  # The braces take bash's "Aborted" line for a run that ASan ended (abort_on_error) off the terminal.
  { "$native" stress --iterations 1 --iteration-timeout 1 "$scn" >/dev/null 2>"$work/err"; } 2>/dev/null
  [[ $? -eq 2 ]] && grep -q "simulator" "$work/err" && continue  # runs only in the simulator
  driver="$(awk '$1 == "driver" {print $2; exit}' "$scn")"
  : >"$work/native"; nfound=0; nlimit=0
  for seed in $(seq 1 "$runs"); do
    start=$(date +%s.%N)
    { timeout -s KILL $((${cap%.*} + 30)) "$native" stress --iterations 1000000000 --time "$cap" --sleep-scale 0.1 \
      --iteration-timeout "$itimeout" --seed "$seed" "$scn" >"$work/out" 2>"$work/err"; } 2>/dev/null
    rc=$?
    end=$(date +%s.%N)
    if [[ $rc -eq 2 ]]; then nlimit=$((nlimit + 1)); continue; fi
    if [[ $rc -ne 0 ]]; then
      nfound=$((nfound + 1))
      echo "$end - $start" | bc >>"$work/native"
    fi
  done
  : >"$work/fuzz"; ffound=0
  for seed in $(seq 1 "$runs"); do
    "$sim" fuzz --driver "$driver" --stop-at-first --time "$cap" --seed "$seed" --out "$work/fuzz-out" >"$work/fout" 2>&1
    t="$(sed -n 's/.*first found after [0-9]* executions (\([0-9.e-]*\) s).*/\1/p' "$work/fout" | head -1)"
    if [[ -n "$t" ]]; then
      ffound=$((ffound + 1))
      echo "$t" >>"$work/fuzz"
    fi
  done
  nfound_text="$nfound/$runs"
  [[ $nlimit -gt 0 ]] && nfound_text="$nfound_text ($nlimit hung: LIMIT)"
  printf '| %s | %s | %s | %s | %s |\n' "$name" "$nfound_text" "$(median <"$work/native")" "$ffound/$runs" \
    "$(median <"$work/fuzz")"
done
