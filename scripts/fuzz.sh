#!/usr/bin/env bash
# Builds fuzz/framing_fuzz.cc with libFuzzer, ASan and UBSan into build-fuzz/ and runs it for
# SECONDS (default 60) over a scratch copy of fuzz/corpus/framing, so new corpus entries
# never land in the repo. Exits non-zero on any crash, leak, timeout or disagreement with
# the reference splitter; a failing input is left in build-fuzz/ as crash-*/leak-*/timeout-*.
#
# Needs clang++-14 and its runtime: apt-get install clang-14 libclang-rt-14-dev.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/build-fuzz"
cxx="${FUZZ_CXX:-clang++-14}"

if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "fuzz.sh: $cxx not found; install clang-14 and libclang-rt-14-dev" >&2
  exit 2
fi

mkdir -p "$out"
"$cxx" -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -Wall -Wextra -o "$out/framing_fuzz" "$root/fuzz/framing_fuzz.cc" "$root/native/framing.cc"

corpus="$out/corpus-framing"
rm -rf "$corpus"
cp -r "$root/fuzz/corpus/framing" "$corpus"

# -timeout: an input taking seconds means a quadratic path, which is a bug here.
cd "$out"
exec "$out/framing_fuzz" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$out/" "$corpus"
