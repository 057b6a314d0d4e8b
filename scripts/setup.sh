#!/usr/bin/env bash
# Installs what devsim needs from Debian's packages (idempotent), then configures and builds into build/.
#   scripts/setup.sh            install + build (Release with debug info)
#   DEVSIM_SKIP_APT=1 ...       skip the package step (already installed)
#   DEVSIM_BUILD_DIR=dir ...    build elsewhere; extra arguments go to cmake's configure step
#   DEVSIM_BUILD_TARGET=t ...   build only target t (devsim_native_tests: the suites labelled "native")
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libgcc-12-dev   # libbacktrace: symbolising the call stacks in reports (sim/stacktrace.cpp)
  libboost-context1.74-dev libboost-test1.74-dev libboost1.74-dev
  libspdlog-dev libfmt-dev liburcu-dev nlohmann-json3-dev libcli11-dev libbenchmark-dev
  libmimalloc-dev   # the devsim tool's heap allocator (CMakeLists.txt, DEVSIM_ALLOCATOR)
  clang-14 libclang-rt-14-dev   # libFuzzer entry points (fuzz/libfuzzer)
)

if [[ "${DEVSIM_SKIP_APT:-0}" != 1 ]]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=()
    [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

build_dir="${DEVSIM_BUILD_DIR:-build}"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${DEVSIM_BUILD_TYPE:-RelWithDebInfo}" "${launcher[@]}" "$@" >/dev/null
target=()
[[ -n "${DEVSIM_BUILD_TARGET:-}" ]] && target=(--target "$DEVSIM_BUILD_TARGET")
cmake --build "$build_dir" -j "$(nproc)" "${target[@]}"
