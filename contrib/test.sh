#!/usr/bin/env bash
# contrib/test.sh — on a fresh Debian 12 machine: install what is missing, check formatting,
# build the default and the ASan+UBSan builds, and run the whole ctest suite in both
# (unit, integration against the loopback test world, end to end, fuzz-corpus replay); then
# the clang + libFuzzer build and a short campaign of every fuzz target.
# Exit status non-zero on any failure. Needs root for the test world (ports 25/53/443).
#
#   contrib/test.sh                 everything
#   TLSFENCE_PRESETS=default contrib/test.sh    only the default build
#   TLSFENCE_PRESETS="default fuzz" …           `fuzz`: the clang + libFuzzer build and a short
#                                   campaign of every target (tests/fuzz/run.sh; seconds per
#                                   target: TLSFENCE_FUZZ_SECONDS, default 20)
#   `package`: the Debian package built with dpkg-buildpackage, checked by lintian, installed,
#                                   upgraded, removed and purged in a throwaway Debian 12 root
#                                   (ctest label package: tests/package/test_package.sh)
#   TLSFENCE_SKIP_DEPS=1 ...        do not run contrib/install-deps.sh
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
PRESETS=${TLSFENCE_PRESETS:-default asan fuzz package}
t0=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - t0 ))s] $*"; }

[ -n "${TLSFENCE_SKIP_DEPS:-}" ] || contrib/install-deps.sh

stamp "format check"
mapfile -t sources < <(git ls-files '*.cc' '*.h' '*.c' 2>/dev/null || find src include tests -name '*.cc' -o -name '*.h')
if [ ${#sources[@]} -gt 0 ]; then
  clang-format --dry-run -Werror "${sources[@]}"
fi

status=0
for preset in $PRESETS; do
  if [ "$preset" = package ]; then  # uses the default build tree's ctest; builds its own package
    stamp "debian package: build, lintian, install/upgrade/remove/purge"
    cmake --preset default >/dev/null
    if ! ctest --preset default -L package --timeout 2400; then
      status=1
      stamp "debian package FAILED"
    fi
    continue
  fi
  stamp "configure + build: $preset"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$JOBS"
  if [ "$preset" = fuzz ]; then  # no ctest here: the corpora are replayed by the other presets
    stamp "fuzz campaign: every target ${TLSFENCE_FUZZ_SECONDS:-20}s, $JOBS at a time"
    if ! tests/fuzz/run.sh -j "$JOBS" "${TLSFENCE_FUZZ_SECONDS:-20}"; then
      status=1
      stamp "fuzz campaign FAILED (a crash, leak, timeout or OOM: reproducers above)"
    fi
    continue
  fi
  stamp "ctest: $preset"
  if ! ctest --preset "$preset" -j "$JOBS" --timeout 300 -LE package; then
    status=1
    stamp "ctest: $preset FAILED"
  fi
done
stamp "done (status $status)"
exit $status
