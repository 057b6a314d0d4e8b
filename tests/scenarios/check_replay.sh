#!/usr/bin/env bash
# For every buggy shipped scenario: `devsim run --save-repro` writes each distinct failure as a scenario;
# `devsim replay` of each must exit 1 (the reproducer declares no bug, and the bug reproduces) with the same
# failure signature.
#   check_replay.sh DEVSIM SCENARIO_DIR
set -u
devsim="$1"
dir="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0
checked=0
signatures() { grep -o '"signature": "[^"]*"' "$1" | sort -u; }
for scn in "$dir"/*.scn; do
  grep -qE '^[[:space:]]*expect[[:space:]]+' "$scn" || continue
  grep -qE '^[[:space:]]*expect[[:space:]]+no-bug' "$scn" && continue
  stem="$(basename "$scn" .scn)"
  mkdir -p "$work/$stem"
  "$devsim" run --brief --save-repro "$work/$stem" --json "$work/$stem.json" "$scn" >/dev/null
  for repro in "$work/$stem"/*.scn; do
    [[ -e "$repro" ]] || { echo "FAIL $scn: no reproducer written"; failed=1; continue; }
    checked=$((checked + 1))
    "$devsim" replay --brief --json "$repro.json" "$repro" >/dev/null
    rc=$?
    if [[ $rc -ne 1 ]]; then
      echo "FAIL $repro: replay exit status $rc, expected 1"
      failed=1
      continue
    fi
    sig="$(signatures "$repro.json")"
    if ! grep -qF "$sig" <(signatures "$work/$stem.json"); then
      echo "FAIL $repro: replayed signature $sig is not one of $scn's"
      failed=1
    else
      echo "ok   $stem: $(basename "$repro") replays $sig"
    fi
  done
done
echo "$checked reproducers replayed"
[[ $checked -gt 0 ]] || failed=1
exit $failed
