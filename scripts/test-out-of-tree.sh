#!/usr/bin/env bash
# Builds docs/writing-a-driver.md's walk-through (examples/my-driver, C++) and docs/writing-a-driver-in-c.md's
# (examples/my-c-driver, kernel C) out of tree against an installed devsim, and checks that each scenario finds its
# driver's bug.
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
cp -r examples/my-c-driver "$work/my-c-driver"
cmake -S "$work/my-c-driver" -B "$work/my-c-driver/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/my-c-driver/build"
# Not `list | grep -q`: grep leaves at the first match, and with pipefail the rest of list's output then ends it with
# SIGPIPE (exit 141) whenever the match comes before the last buffer.
listed="$("$work/my-c-driver/build/my-devsim" list)"
grep -q "my_tally" <<<"$listed"
c_report="$("$work/my-c-driver/build/my-devsim" run "$work/my-c-driver/my-tally-unload.scn")"
echo "$c_report"
# The report's stack has the driver's frame, symbolised from the module's own debug information whatever the
# out-of-tree build type (devsim_add_c_driver compiles modules with -g): the caller of the mutex_lock that found the
# freed mutex. Without it the walk skips from the kernel's frames to the cdev core's.
grep -A1 '^ __devsim_mutex_lock ' <<<"$c_report" | grep -Eq '^ tally_ioctl \(.*my_tally\.c:[0-9]+\)$'
echo "out-of-tree C driver: built against the installed package's linux/*.h, and its scenario found the bug"
# A malformed DEVICE_ID (three hex digits of product) is a configure-time error naming the driver and the value.
cp -r examples/my-c-driver "$work/bad-device-id"
sed -i 's/^devsim_add_c_driver(NAME my_tally /devsim_add_c_driver(NAME my_tally BUS usb DEVICE_ID usb:v10D2p001 /' \
  "$work/bad-device-id/CMakeLists.txt"
grep -q 'DEVICE_ID usb:v10D2p001' "$work/bad-device-id/CMakeLists.txt"
if bad="$(cmake -S "$work/bad-device-id" -B "$work/bad-device-id/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" 2>&1)"; then
  echo "a malformed DEVICE_ID was accepted"
  exit 1
fi
grep -q "devsim_add_c_driver(my_tally): DEVICE_ID is a USB device's ids" <<<"$bad"
grep -q "'usb:v10D2p001'" <<<"$bad"
echo "out-of-tree C driver: a malformed DEVICE_ID is refused at configure time"
