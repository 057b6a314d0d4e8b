#!/usr/bin/env bash
# Every malformed scenario must give exit status 2 and a FILE:LINE:COL message on stderr, and never crash.
#   check_malformed.sh DEVSIM DIR
set -u
devsim="$1"
dir="$2"
failed=0
count=0
for f in "$dir"/*.scn; do
  count=$((count + 1))
  err=$("$devsim" run "$f" 2>&1 >/dev/null)
  rc=$?
  if [[ $rc -ne 2 ]]; then
    echo "FAIL $f: exit status $rc, expected 2"
    failed=1
  elif ! grep -qE "^$f:[0-9]+:[0-9]+: " <<<"$err"; then
    echo "FAIL $f: no FILE:LINE:COL message: $err"
    failed=1
  else
    echo "ok   $f: ${err%%$'\n'*}"
  fi
done
echo "$count malformed scenarios checked"
exit $failed
