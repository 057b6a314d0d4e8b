#!/usr/bin/env bash
# Partial-order reduction on real drivers: for every shipped scenario that explores exhaustively, the default
# (DPOR) and plain search (`--reduction none`) must reach the same verdict and the same set of distinct failure
# signatures, and DPOR must not run more executions. The generated models of tests/core/test_dpor_soundness.cpp
# check the reduction's logic; this checks what the footprints of the real kernel model and drivers describe.
#   check_reduction.sh DEVSIM SCENARIO_DIR
set -u
devsim="$1"
dir="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0
checked=0
field() { grep -o "\"$2\": [0-9a-z\"]*" "$1" | head -1 | sed 's/.*: //'; }
signatures() { grep -o '"signature": "[^"]*"' "$1" | sort -u; }
for scn in "$dir"/*.scn; do
  grep -qE '^[[:space:]]*explore[[:space:]]+exhaustive' "$scn" || continue
  stem="$(basename "$scn" .scn)"
  "$devsim" run --brief --reduction none --json "$work/$stem.none.json" "$scn" >/dev/null
  none_rc=$?
  "$devsim" run --brief --json "$work/$stem.dpor.json" "$scn" >/dev/null
  dpor_rc=$?
  checked=$((checked + 1))
  none_n="$(field "$work/$stem.none.json" executions)"
  dpor_n="$(field "$work/$stem.dpor.json" executions)"
  if [[ $none_rc -ne $dpor_rc ]]; then
    echo "FAIL $stem: exit status $dpor_rc with DPOR, $none_rc without"
    failed=1
  elif [[ "$(signatures "$work/$stem.none.json")" != "$(signatures "$work/$stem.dpor.json")" ]]; then
    echo "FAIL $stem: DPOR's failure signatures differ from plain search's:"
    diff <(signatures "$work/$stem.none.json") <(signatures "$work/$stem.dpor.json")
    failed=1
  elif [[ -z "$none_n" || -z "$dpor_n" || $dpor_n -gt $none_n ]]; then
    echo "FAIL $stem: DPOR ran ${dpor_n:-?} executions, plain search ${none_n:-?}"
    failed=1
  else
    echo "ok   $stem: $(signatures "$work/$stem.none.json" | wc -l) signatures; executions $none_n plain, $dpor_n DPOR"
  fi
done
echo "$checked scenarios compared"
# Issue 14's yardstick: on r06-pl061-revocable-fixed (4 tasks, preemptions=2) DPOR must run at least 100x fewer
# executions than plain search. The counts are deterministic; docs/performance.md has today's.
r06="$work/r06-pl061-revocable-fixed"
if [[ ! -f "$r06.none.json" ]]; then
  echo "FAIL r06-pl061-revocable-fixed: not among the scenarios compared (renamed? update this check)"
  failed=1
else
  none_n="$(field "$r06.none.json" executions)"
  dpor_n="$(field "$r06.dpor.json" executions)"
  if [[ -z "$none_n" || -z "$dpor_n" || $((dpor_n * 100)) -gt $none_n ]]; then
    echo "FAIL r06-pl061-revocable-fixed: DPOR ran ${dpor_n:-?} executions, more than 1/100 of plain search's ${none_n:-?}"
    failed=1
  else
    echo "ok   r06-pl061-revocable-fixed: DPOR runs $((none_n / dpor_n))x fewer executions than plain search"
  fi
fi
[[ $checked -gt 0 ]] || failed=1
exit $failed
