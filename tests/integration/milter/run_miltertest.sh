#!/bin/bash
# Runs one miltertest script against milter_harness on a unix socket in a temp dir.
# usage: run_miltertest.sh HARNESS SCRIPT [--expect TEXT]... -- HARNESS_ARGS...
# Passes when miltertest exits 0, the harness exits 0 after SIGUSR1 (so in the ASan build
# LeakSanitizer found nothing), no connection data is left (open=0), and every --expect
# text appears in the harness log.
set -u
harness=$1
script=$2
shift 2
expects=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  case $1 in
    --expect) expects+=("$2"); shift 2 ;;
    *) echo "run_miltertest: unknown option $1" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] && shift

dir=$(mktemp -d /tmp/tlsfence-milter.XXXXXX)
trap 'rm -rf "$dir"' EXIT
sock="$dir/milter.sock"
"$harness" --listen "unix:$sock" "$@" 2>"$dir/harness.log" &
pid=$!
for _ in $(seq 100); do
  [ -S "$sock" ] && break
  sleep 0.1
done

MILTER_SOCKET="unix:$sock" MILTER_SCRIPTS="$(dirname "$script")" miltertest -s "$script"
rc=$?
kill -USR1 "$pid"
wait "$pid"
hrc=$?
echo "--- harness log"
cat "$dir/harness.log"
echo "---"
fail=0
if [ $rc -ne 0 ]; then echo "FAIL: miltertest exited $rc"; fail=1; fi
if [ $hrc -ne 0 ]; then echo "FAIL: harness exited $hrc"; fail=1; fi
if ! grep -q " open=0 " "$dir/harness.log"; then echo "FAIL: connection data left at exit"; fail=1; fi
for e in "${expects[@]}"; do
  if ! grep -qF -- "$e" "$dir/harness.log"; then echo "FAIL: harness log lacks: $e"; fail=1; fi
done
exit $fail
