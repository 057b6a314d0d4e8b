#!/bin/bash -eu
# Builds devsim's libFuzzer entry points with the compiler, flags and fuzzing engine ClusterFuzzLite / OSS-Fuzz
# provide ($CXX, $CXXFLAGS, $LIB_FUZZING_ENGINE), and puts them with their seed corpora into $OUT.
cmake -S "$SRC/devsim" -B build -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
  -DDEVSIM_LIBFUZZER=ON -DDEVSIM_FUZZ_ENGINE="$LIB_FUZZING_ENGINE" \
  -DDEVSIM_WERROR=OFF -DDEVSIM_BUILD_TESTS=OFF -DDEVSIM_BUILD_BENCH=OFF
cmake --build build --target fuzz_scenario_parser fuzz_hotplug
cp build/fuzz/libfuzzer/fuzz_scenario_parser build/fuzz/libfuzzer/fuzz_hotplug "$OUT/"
(cd "$SRC/devsim/scenarios" && zip -q "$OUT/fuzz_scenario_parser_seed_corpus.zip" ./*.scn)
