#!/usr/bin/env bash
# Builds a fuzz target with libFuzzer, ASan and UBSan into build-fuzz/ and runs it for
# SECONDS (default 60) over a scratch copy of its corpus, so new corpus entries never land
# in the repo. Targets: framing (fuzz/framing_fuzz.cc: the framer against the reference
# splitter) and proxy (fuzz/proxy_fuzz.cc: the PROXY protocol header parser). Exits
# non-zero on any crash, leak, timeout or disagreement; a failing input is left in
# build-fuzz/ as crash-*/leak-*/timeout-*.
#
# Needs clang++-14 and its runtime: apt-get install clang-14 libclang-rt-14-dev.
# Usage: scripts/fuzz.sh [SECONDS] [framing|proxy]
set -euo pipefail

seconds="${1:-60}"
target="${2:-framing}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/build-fuzz"
cxx="${FUZZ_CXX:-clang++-14}"

if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "fuzz.sh: $cxx not found; install clang-14 and libclang-rt-14-dev" >&2
  exit 2
fi

mkdir -p "$out"
case "$target" in
  framing) sources=("$root/native/framing.cc") ;;
  proxy) sources=("$root/native/proxy.cc" "$root/native/sys.cc") ;;
  *) echo "fuzz.sh: unknown target '$target' (framing or proxy)" >&2; exit 2 ;;
esac
"$cxx" -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -Wall -Wextra -o "$out/${target}_fuzz" "$root/fuzz/${target}_fuzz.cc" "${sources[@]}"

corpus="$out/corpus-$target"
rm -rf "$corpus"
cp -r "$root/fuzz/corpus/$target" "$corpus"

# -timeout: an input taking seconds means a quadratic path, which is a bug here.
cd "$out"
exec "$out/${target}_fuzz" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$out/" "$corpus"
