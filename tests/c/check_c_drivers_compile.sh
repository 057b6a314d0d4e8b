#!/bin/sh
# Every C driver in drivers/c/ (and tests/c/every_header*.c, which use every header's API once) compiles as C with gcc and with clang, -std=gnu11 -Wall -Wextra -Wstrict-prototypes (as Kbuild) -Werror, against
# include/linux/ only: -nostdinc removes the C library's and every C++ header; the only other directory searched is
# the compiler's own (stddef.h). Each driver is compiled in each variant its sources select (MAILBOX_FIXED, PULSE_FIXED,
# GPIOSIM_FIXED, USBSKEL_FIXED, USBAPI_OLD_DEVNODE, USBSKEL_IO_AFTER_DISCONNECT).
# usage: check_c_drivers_compile.sh SOURCE_ROOT
set -u
root=$1
status=0
checked=0
for cc in gcc clang; do
  if ! command -v "$cc" >/dev/null 2>&1; then
    echo "FAIL: $cc is not installed"
    status=1
    continue
  fi
  builtin=$("$cc" -print-file-name=include)
  for src in "$root"/drivers/c/*.c "$root"/tests/c/every_header*.c; do
    for variant in "" "-DMAILBOX_FIXED=1 -DPULSE_FIXED=1 -DGPIOSIM_FIXED=1 -DUSBSKEL_FIXED=1 -DUSBAPI_OLD_DEVNODE=1" "-DUSBSKEL_IO_AFTER_DISCONNECT=1"; do
      # shellcheck disable=SC2086
      if "$cc" -std=gnu11 -Wall -Wextra -Wstrict-prototypes -Werror -nostdinc -isystem "$builtin" -I "$root/include" $variant \
           -fsyntax-only "$src"; then
        echo "ok: $cc $variant $(basename "$src")"
        checked=$((checked + 1))
      else
        echo "FAIL: $cc $variant $src"
        status=1
      fi
    done
  done
done
# A C++ header must not be reachable: a probe that includes one fails to compile under the same flags.
probe=$(mktemp --suffix=.c)
printf '#include <linux/kernel.h>\n#include <bus/cdev.hpp>\n' >"$probe"
if gcc -std=gnu11 -nostdinc -isystem "$(gcc -print-file-name=include)" -I "$root/include" -fsyntax-only "$probe" \
     2>/dev/null; then
  echo "FAIL: a devsim C++ header is reachable from the C drivers' include path"
  status=1
fi
rm -f "$probe"
[ "$checked" -ge 20 ] || { echo "FAIL: only $checked compilations"; status=1; }
exit $status
