#!/usr/bin/env bash
# tests/fuzz/run.sh — a libFuzzer campaign over the fuzz targets of the fuzz build
# (`cmake --preset fuzz && cmake --build --preset fuzz`).
#
#   tests/fuzz/run.sh [-j JOBS] [-b BUILD] [-r RUNS] [-m] [-k DIR] [SECONDS] [TARGET...]
#
#   SECONDS   per target (default 600)          TARGET...  only these (default: every target)
#   -j JOBS   targets fuzzed at once (default 2: one per core)
#   -b BUILD  the fuzz build directory (default build/fuzz; it lists its targets in
#             fuzz-targets.tsv: name, binary, corpus, dictionary)
#   -r RUNS   also stop a target after RUNS executions
#   -m        merge what each campaign found into the committed corpus (-merge=1
#             -use_counters=0: only inputs adding edges are copied in; existing files stay)
#   -k DIR    keep every target's log, corpus and artifacts in DIR (default: a temporary
#             directory, removed at the end unless something was found)
#
# Each target runs on a temporary copy of its corpus, with its dictionary (and the libFuzzer
# flags in tests/fuzz/<target>/<target>.options, if any), -timeout=10 s per input and
# -rss_limit_mb=2048. At the end: one line per target with its executions, exec/s,
# coverage (libFuzzer's cov: edges, ft: features, corpus size) and findings. Exit status 1 when
# any target found a crash, a leak, a timeout or an out-of-memory; each reproducer is printed
# (base64 and a hexdump) and kept in DIR/<target>/artifacts/.
#
# ASan's quarantine is 16 MB instead of 256 (unless ASAN_OPTIONS is set): freed memory still
# waits there across thousands of executions (one input allocates kilobytes), so a
# use-after-free within an input is caught as before, and the allocator's memory stays warm
# in the cache: about 20 % more executions per second.
set -euo pipefail
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16}

jobs=2 build=build/fuzz runs=-1 merge=0 keep=""
while getopts "j:b:r:mk:" opt; do
  case $opt in
    j) jobs=$OPTARG ;;
    b) build=$OPTARG ;;
    r) runs=$OPTARG ;;
    m) merge=1 ;;
    k) keep=$OPTARG ;;
    *) sed -n '2,20p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
seconds=600
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then seconds=$1; shift; fi
wanted=("$@")

list="$build/fuzz-targets.tsv"
[ -s "$list" ] || { echo "run.sh: $list missing: build the fuzz preset first" >&2; exit 2; }
if [ -n "$keep" ]; then
  work=$keep
  mkdir -p "$work"
else
  work=$(mktemp -d /tmp/tlsfence-fuzz.XXXXXX)
fi

# One target: its campaign in $work/<name>/ (log, corpus copy, artifacts).
fuzz_one() {
  local name=$1 bin=$2 corpus=$3 dict=$4
  local dir="$work/$name"
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -r "$corpus"/. "$dir/corpus/" 2>/dev/null || true
  local args=(-max_total_time="$seconds" -runs="$runs" -timeout=10 -rss_limit_mb=2048
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" -close_fd_mask=1)
  [ -n "$dict" ] && args+=(-dict="$dict")
  # A target's own libFuzzer flags, e.g. -close_fd_mask=3 for one whose code logs.
  local options="$(dirname "$corpus")/$name.options"
  local -a extra=()
  [ -f "$options" ] && read -r -a extra <"$options"
  args+=("${extra[@]}")
  local rc=0
  "$bin" "${args[@]}" "$dir/corpus" >"$dir/log" 2>&1 || rc=$?
  echo "$rc" >"$dir/rc"
  if [ "$merge" = 1 ] && [ "$rc" = 0 ]; then
    "$bin" -merge=1 -use_counters=0 -timeout=10 -rss_limit_mb=2048 "${extra[@]}" "$corpus" "$dir/corpus" \
      >"$dir/merge.log" 2>&1 || echo "run.sh: merge of $name failed (see $dir/merge.log)" >&2
  fi
}

names=()
running=0
mapfile -t targets <"$list"  # read once: a re-configure rewrites the list
for line in "${targets[@]}"; do
  IFS=$'\t' read -r name bin corpus dict <<<"$line"
  [ -n "$name" ] || continue
  if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " == *" $name "* ]]; then continue; fi
  [ -x "$bin" ] || { echo "run.sh: $bin not built" >&2; exit 2; }
  names+=("$name")
  echo "== fuzzing $name (${seconds}s)"
  fuzz_one "$name" "$bin" "$corpus" "$dict" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true
[ ${#names[@]} -gt 0 ] || { echo "run.sh: no target matches: ${wanted[*]}" >&2; exit 2; }

# The figures of one target from its log: libFuzzer's final stats and last status line.
final_stat() { sed -n "s/^stat::$2: *//p" "$work/$1/log" | tail -1; }
status_field() { grep -E '^#[0-9]+' "$work/$1/log" | tail -1 | sed -n "s/.* $2: \([^ ]*\).*/\1/p"; }

found=0
printf '\n%-16s %12s %8s %7s %7s %7s  %s\n' target executions exec/s cov ft corpus findings
for name in "${names[@]}"; do
  rc=$(cat "$work/$name/rc" 2>/dev/null || echo 99)
  mapfile -t artifacts < <(find "$work/$name/artifacts" -type f | sort)
  findings=none
  if [ "$rc" != 0 ] || [ ${#artifacts[@]} -gt 0 ]; then
    found=1
    findings="exit $rc: $(for a in "${artifacts[@]}"; do basename "$a" | cut -d- -f1; done | sort | uniq -c |
      awk '{printf "%s%s x%s", (NR>1?", ":""), $2, $1}')"
  fi
  printf '%-16s %12s %8s %7s %7s %7s  %s\n' "$name" "$(final_stat "$name" number_of_executed_units)" \
    "$(final_stat "$name" average_exec_per_sec)" "$(status_field "$name" cov)" "$(status_field "$name" ft)" \
    "$(status_field "$name" corp | cut -d/ -f1)" "$findings"
done

if [ "$found" = 1 ]; then
  for name in "${names[@]}"; do
    rc=$(cat "$work/$name/rc" 2>/dev/null || echo 99)
    mapfile -t artifacts < <(find "$work/$name/artifacts" -type f | sort)
    [ "$rc" != 0 ] || [ ${#artifacts[@]} -gt 0 ] || continue
    echo
    echo "==== $name: exit $rc; the report (from $work/$name/log):"
    grep -A 30 -E '^==[0-9]+==(ERROR|WARNING)|runtime error|ERROR: libFuzzer|^SUMMARY' "$work/$name/log" | head -60 || true
    for a in "${artifacts[@]}"; do
      echo "---- reproducer $a ($(stat -c %s "$a") bytes), base64:"
      base64 -w 76 "$a" | head -40
      echo "---- hexdump:"
      od -A x -t x1z -v "$a" | head -20
    done
  done
  echo
  echo "run.sh: FINDINGS (kept in $work). Replay one: $build/tests/fuzz/<target>/fuzz_<target> FILE" >&2
  exit 1
fi
[ -n "$keep" ] || rm -rf "$work"
exit 0
