#!/usr/bin/env bash
# The native suites against the addon built with AddressSanitizer and UndefinedBehavior-
# Sanitizer (build-asan/, apart from the product build). Fails on any report, from the test
# process or any process it starts: reports go to files, and any file is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
suites=(test/conformance.test.ts test/hardening.test.ts test/lifetimes.test.ts test/udp-conformance.test.ts
        test/parity.test.ts test/emfile.test.ts)
for extra in test/framing-conformance.test.ts test/proxy.test.ts test/unix.test.ts test/workers.test.ts test/builtin-thread.test.ts test/host-poll.test.ts; do [ -f "$extra" ] && suites+=("$extra"); done
npx cmake-js rebuild --out build-asan --CDSOCKENGINE_SANITIZE=ON >build-asan.log 2>&1 || {
  tail -30 build-asan.log
  exit 1
}
reports=$(mktemp -d)
asan=$(g++ -print-file-name=libasan.so)
status=0
LD_PRELOAD="$asan" \
  ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:log_path=$reports/asan" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan" \
  SOCKENGINE_ADDON="$PWD/build-asan/Release/sockengine.node" SOCKENGINE_SANITIZED=1 \
  npx vitest run "${suites[@]}" || status=$?
if compgen -G "$reports/*" >/dev/null; then
  echo "sanitizer reports:" >&2
  cat "$reports"/* >&2
  status=1
fi
rm -rf "$reports"
exit "$status"
