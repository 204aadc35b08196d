#!/usr/bin/env bash
# contrib/install-deps.sh as a first run meets it, with dpkg-query, apt-get, debconf-set-selections,
# systemctl and sudo replaced by shims on PATH (nothing is installed, no root needed):
#   - a machine that already has /usr/sbin/policy-rc.d (every Docker-based Debian image): the
#     script installs what is missing and exits 0, leaving that file as it was;
#   - no policy-rc.d: one that forbids service starts exists while apt-get runs, and is gone after;
#   - nothing missing: apt-get is not called, exit 0;
#   - apt-get failing: the script fails, and removes only the policy-rc.d it created.
# usage: test_install_deps.sh PATH/TO/install-deps.sh
set -uo pipefail
script=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

mkdir -p "$work/bin"
# dpkg-query -W -f='${Status}' PKG: installed unless PKG is in $SHIM_MISSING.
cat > "$work/bin/dpkg-query" <<'SH'
#!/bin/sh
pkg=$(eval echo "\${$#}")
for m in $SHIM_MISSING; do [ "$m" = "$pkg" ] && exit 1; done
printf 'install ok installed'
SH
# apt-get: logs its arguments and what policy-rc.d says at that moment; fails if asked to.
cat > "$work/bin/apt-get" <<'SH'
#!/bin/sh
echo "apt-get $*" >> "$SHIM_LOG"
if [ "$1" = install ] || [ "$2" = install ] || [ "$3" = install ] || [ "$4" = install ]; then
  if [ -x "$TLSFENCE_POLICY_RC_D" ]; then
    "$TLSFENCE_POLICY_RC_D" nginx start; echo "policy-rc.d during install: $?" >> "$SHIM_LOG"
  else
    echo "policy-rc.d during install: absent" >> "$SHIM_LOG"
  fi
  [ -n "${SHIM_APT_FAIL:-}" ] && exit 100
fi
exit 0
SH
printf '#!/bin/sh\ncat >/dev/null\n' > "$work/bin/debconf-set-selections"
printf '#!/bin/sh\necho "systemctl $*" >> "$SHIM_LOG"\n' > "$work/bin/systemctl"
printf '#!/bin/sh\nexec "$@"\n' > "$work/bin/sudo"
chmod +x "$work/bin/"*

run() { # run NAME [ENV=VALUE...]: runs the script, sets $rc and $out
  local name=$1; shift
  export SHIM_LOG="$work/$name.log" TLSFENCE_POLICY_RC_D="$work/$name.policy-rc.d"
  : > "$SHIM_LOG"
  out=$(env PATH="$work/bin:$PATH" "$@" bash "$script" 2>&1)
  rc=$?
}

# 1. policy-rc.d already there (Docker images): exit 0, file untouched.
printf '#!/bin/sh\n# the image'"'"'s own\nexit 101\n' > "$work/docker.policy-rc.d"
chmod 755 "$work/docker.policy-rc.d"
before=$(sha256sum < "$work/docker.policy-rc.d")
run docker SHIM_MISSING="knot swaks"
[ "$rc" = 0 ] || fail "pre-existing policy-rc.d: exit status $rc (expected 0): $out"
grep -q "install-deps: done" <<<"$out" || fail "pre-existing policy-rc.d: no 'install-deps: done'"
grep -q -- "install -y -qq --no-install-recommends knot swaks" "$SHIM_LOG" ||
  fail "pre-existing policy-rc.d: apt-get install of the missing packages not called: $(cat "$SHIM_LOG")"
[ "$(sha256sum < "$work/docker.policy-rc.d")" = "$before" ] || fail "pre-existing policy-rc.d was changed"

# 2. no policy-rc.d: one that forbids starts (exit 101) exists during the install only.
run fresh SHIM_MISSING="nginx-light"
[ "$rc" = 0 ] || fail "fresh machine: exit status $rc: $out"
grep -q "policy-rc.d during install: 101" "$SHIM_LOG" ||
  fail "fresh machine: services were not forbidden during the install: $(cat "$SHIM_LOG")"
[ ! -e "$TLSFENCE_POLICY_RC_D" ] || fail "fresh machine: the temporary policy-rc.d was left behind"
grep -q "systemctl disable --now nginx" "$SHIM_LOG" || fail "fresh machine: services not disabled"

# 3. nothing missing: no apt-get at all.
run complete SHIM_MISSING=""
[ "$rc" = 0 ] || fail "complete machine: exit status $rc: $out"
grep -q "packages present" <<<"$out" || fail "complete machine: no 'packages present': $out"
! grep -q apt-get "$SHIM_LOG" || fail "complete machine: apt-get was called"

# 4. apt-get fails: the script fails and cleans up the policy-rc.d it created ...
run aptfail SHIM_MISSING="knot" SHIM_APT_FAIL=1
[ "$rc" != 0 ] || fail "failing apt-get: exit status 0"
[ ! -e "$TLSFENCE_POLICY_RC_D" ] || fail "failing apt-get: the temporary policy-rc.d was left behind"
# ... and keeps one that was there before.
cp "$work/docker.policy-rc.d" "$work/aptfail2.policy-rc.d"
run aptfail2 SHIM_MISSING="knot" SHIM_APT_FAIL=1
[ "$rc" != 0 ] || fail "failing apt-get, pre-existing policy-rc.d: exit status 0"
[ -x "$work/aptfail2.policy-rc.d" ] || fail "failing apt-get removed the pre-existing policy-rc.d"

if [ "$fails" = 0 ]; then echo "install-deps: 5 cases passed"; else exit 1; fi
