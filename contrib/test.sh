#!/usr/bin/env bash
# contrib/test.sh — on a fresh Debian 12 machine: install what is missing, check formatting,
# build the default and the ASan+UBSan builds, and run the whole ctest suite in both
# (unit, integration against the loopback test world, end to end, fuzz-corpus replay).
# Exit status non-zero on any failure. Needs root for the test world (ports 25/53/443).
#
#   contrib/test.sh                 everything
#   TLSFENCE_PRESETS=default contrib/test.sh    only the default build
#   TLSFENCE_SKIP_DEPS=1 ...        do not run contrib/install-deps.sh
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
PRESETS=${TLSFENCE_PRESETS:-default asan}
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
  stamp "configure + build: $preset"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$JOBS"
  stamp "ctest: $preset"
  if ! ctest --preset "$preset" -j "$JOBS" --timeout 300; then
    status=1
    stamp "ctest: $preset FAILED"
  fi
done
stamp "done (status $status)"
exit $status
