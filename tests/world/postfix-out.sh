#!/usr/bin/env bash
# postfix-out.sh — drive the test world's sending Postfix (127.0.0.1:2525).
#
#   postfix-out.sh set KEY=VALUE...        postconf -e each setting, then reload
#   postfix-out.sh unset KEY...            postconf -X (back to the default), then reload
#   postfix-out.sh reset                   regenerate the world's postfix configs, reload
#   postfix-out.sh send FROM TO [SWAKS ARGS...]   swaks to 127.0.0.1:2525; prints swaks'
#                                          transcript, exit status is swaks' (0 = accepted)
#   postfix-out.sh flush                   postqueue -f (retry the deferred queue now)
#   postfix-out.sh clear                   postsuper -d ALL (empty the queue)
#   postfix-out.sh queue                   postqueue -p
#   postfix-out.sh log-lines               number of lines in the log so far (for wait-log)
#   postfix-out.sh wait-log REGEX SECONDS [AFTER_LINE]
#                                          wait until an extended REGEX appears in
#                                          $RUN/log/postfix-out.log (after line AFTER_LINE);
#                                          prints the first matching line; 1 on timeout
# Example: postfix-out.sh set "smtp_tls_policy_maps=socketmap:unix:$RUN/tlsfence/sm.sock:tlspolicy"
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
E=$RUN/postfix-out/etc
LOG=$RUN/log/postfix-out.log
[ -f "$E/main.cf" ] || die "no postfix-out in $RUN (run tests/world/up.sh first)"

usage() { sed -n '2,20s/^# \{0,1\}//p' "$0" >&2; exit 2; }

reload() {
  # a main.cf changed less than ~1 s ago makes every postfix command nap: backdate it
  touch -d '-1 min' "$E/main.cf" "$E/master.cf"
  postfix -c "$E" reload >/dev/null 2>&1 || die "postfix -c $E reload failed (see $LOG)"
}

cmd=${1:-}; [ $# -gt 0 ] && shift
case $cmd in
  set)
    [ $# -gt 0 ] || usage
    for kv in "$@"; do
      [[ $kv == *=* ]] || die "set: expected KEY=VALUE, got '$kv'"
      postconf -c "$E" -e "$kv" || die "postconf rejected '$kv'"
    done
    reload ;;
  unset)
    [ $# -gt 0 ] || usage
    postconf -c "$E" -X "$@"
    reload ;;
  reset)
    bash "$HERE/gen-postfix.sh"
    reload
    postfix -c "$RUN/postfix-in/etc" reload >/dev/null 2>&1 || true ;;
  send)
    [ $# -ge 2 ] || usage
    from=$1 to=$2; shift 2
    exec swaks --server "$SENDER:$SENDER_PORT" --from "$from" --to "$to" --timeout 30 "$@" ;;
  flush)
    postqueue -c "$E" -f ;;
  clear)
    postsuper -c "$E" -d ALL >/dev/null 2>&1 || true ;;
  queue)
    postqueue -c "$E" -p ;;
  log-lines)
    wc -l < "$LOG" ;;
  wait-log)
    [ $# -ge 2 ] || usage
    re=$1 secs=$2 after=${3:-0}
    end=$(( $(now_ns) + ${secs%.*} * 1000000000 ))
    while :; do
      if line=$(tail -n +"$((after + 1))" "$LOG" | grep -m1 -E -- "$re"); then
        echo "$line"; exit 0
      fi
      [ "$(now_ns)" -lt "$end" ] || { echo "postfix-out.sh: no /$re/ in $LOG within ${secs}s" >&2; exit 1; }
      sleep 0.1
    done ;;
  *) usage ;;
esac
