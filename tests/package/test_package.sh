#!/usr/bin/env bash
# The Debian package, built and used as an admin would:
#   1. dpkg-buildpackage -us -uc -b on a copy of the source tree -> tlsfence_VERSION_ARCH.deb, in a
#      Debian 12 root with nothing but build-essential and debian/control's Build-Depends
#      (TLSFENCE_PACKAGE_BUILD_ON_HOST=1: on this machine instead)
#   2. lintian: no error and no warning that is not overridden (debian/*.lintian-overrides say why)
#   3. its contents: the programs in /usr/sbin, the conffile, units, sysusers file, man pages,
#      examples, with their modes and owners
#   4. in a throwaway Debian 12 root (debootstrap minbase, cached under $TLSFENCE_BOOKWORM_DIR,
#      default /var/cache/tlsfence-bookworm, with the package's dependencies; an overlayfs on top
#      per run): install with a policy-rc.d that forbids starts (units enabled, not started),
#      purge, install again (started), reinstall the same version as an upgrade (restarted, a
#      locally changed conffile kept), remove (stopped; conffile kept), purge (nothing left: the
#      file tree equals the one before the first install, but for the system user's lines).
#      systemctl is a recording shim inside the root (no systemd runs there); everything else
#      (dpkg, apt, deb-systemd-helper/-invoke, systemd-sysusers) is the real thing.
# Needs root, network access to the Debian mirror on the first run (debootstrap, dependencies).
#
# usage: test_package.sh SOURCE_DIR [WORK_DIR]     exit 0 when every check passed
set -uo pipefail
src=$(cd "$1" && pwd)
work=${2:-$(mktemp -d /tmp/tlsfence-package.XXXXXX)}
cache=${TLSFENCE_BOOKWORM_DIR:-/var/cache/tlsfence-bookworm}
t0=$(date +%s)
fails=0
say() { echo "== [$(( $(date +%s) - t0 ))s] $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
die() { echo "FAIL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (chroot, mount)"
mkdir -p "$work"

# ---- a Debian 12 root, and throwaway overlays on it --------------------------------------
# shellcheck source=../world/debian_mirror.sh
source "$(dirname "$0")/../world/debian_mirror.sh"
say "prepare the Debian 12 root in $cache"
mkdir -p "$cache"
exec 9> "$cache/.lock"
flock 9
base=$cache/root
if [ ! -x "$base/usr/bin/apt-get" ]; then
  command -v debootstrap >/dev/null || die "debootstrap is not installed"
  rm -rf "$base"
  debootstrap --variant=minbase bookworm "$base" "$(debian_mirror)" > "$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log"; die "debootstrap failed"; }
fi
flock -u 9
mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    mountpoint -q "${mounts[$i]}" && umount -R "${mounts[$i]}"
  done
}
trap cleanup EXIT
overlay() { # overlay NAME: a fresh overlayfs on $base at $work/NAME, with /proc and /dev
  local r=$work/$1
  rm -rf "$work/$1.upper" "$work/$1.work" && mkdir -p "$work/$1.upper" "$work/$1.work" "$r"
  mount -t overlay overlay -o "lowerdir=$base,upperdir=$work/$1.upper,workdir=$work/$1.work" "$r" ||
    die "cannot mount an overlayfs on $base"
  mounts+=("$r")
  mount -t proc proc "$r/proc" && mounts+=("$r/proc")
  mount --rbind /dev "$r/dev" && mounts+=("$r/dev")
  # downloaded .debs survive the overlay: later runs install build and run dependencies offline
  mkdir -p "$cache/archives/partial"
  mount --bind "$cache/archives" "$r/var/cache/apt/archives" && mounts+=("$r/var/cache/apt/archives")
}

# ---- 1. build -------------------------------------------------------------------------------
say "copy the source tree and build the package (in a root with only the Build-Depends)"
rm -rf "$work/src" && mkdir -p "$work/src"
# the files git tracks or would track (not build trees, not .git), as they are in the work tree
(cd "$src" && git ls-files -co --exclude-standard | while IFS= read -r f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  xargs -0 cp --parents -a -t "$work/src") || die "cannot copy the source tree"
if [ -n "${TLSFENCE_PACKAGE_REUSE:-}" ] && ls "$work"/tlsfence_*.deb > /dev/null 2>&1; then
  say "reusing the package built before in $work (TLSFENCE_PACKAGE_REUSE)"
else
rm -f "$work"/tlsfence_*
if [ -n "${TLSFENCE_PACKAGE_BUILD_ON_HOST:-}" ]; then
  (cd "$work/src" && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -us -uc -b > "$work/build.log" 2>&1) || { tail -n 40 "$work/build.log"; die "dpkg-buildpackage failed"; }
else
  # In a clean Debian 12 root that has only build-essential and debian/control's Build-Depends
  # (apt-get build-dep ./): a missing Build-Depends fails the build here.
  overlay buildroot
  b=$work/buildroot
  cp /etc/resolv.conf "$b/etc/resolv.conf"
  mkdir -p "$b/build" && cp -a "$work/src" "$b/build/src"
  printf '#!/bin/sh\nexit 101\n' > "$b/usr/sbin/policy-rc.d" && chmod 755 "$b/usr/sbin/policy-rc.d"
  chroot "$b" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive sh -c \
    "apt-get update -qq && cd /build/src && apt-get build-dep -y -qq ./" > "$work/build-deps.log" 2>&1 ||
    { tail -n 20 "$work/build-deps.log"; die "apt-get build-dep ./ failed"; }
  chroot "$b" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
    DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
    sh -c "cd /build/src && dpkg-buildpackage -us -uc -b" > "$work/build.log" 2>&1 ||
    { tail -n 40 "$work/build.log"; die "dpkg-buildpackage failed in the Build-Depends-only root (log: $work/build.log)"; }
  cp "$b"/build/tlsfence[_-]* "$work/"   # the package, its -dbgsym, .changes, .buildinfo
  umount -R "$b"   # before $base changes below: an overlay's lower layer must not change under it
fi
fi
deb=$(ls "$work"/tlsfence_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -n1)
changes=$(ls "$work"/tlsfence_*.changes 2>/dev/null | head -n1)
[ -n "$deb" ] || die "no tlsfence_VERSION_ARCH.deb in $work"
version=$(dpkg-deb -f "$deb" Version)
say "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"

# ---- 2. lintian -----------------------------------------------------------------------------
say "lintian"
lintian --fail-on error,warning --display-level '>=warning' --info "$changes" > "$work/lintian.log" 2>&1
lrc=$?
cat "$work/lintian.log"
[ "$lrc" = 0 ] || fail "lintian reports errors or warnings that are not overridden (exit $lrc)"

# ---- 3. contents ----------------------------------------------------------------------------
say "package contents"
dpkg-deb -c "$deb" | awk '{print $1, $2, $6}' | sed 's| \./| /|' > "$work/contents"
expect() { # MODE OWNER PATH
  grep -qxF -- "$1 $2 $3" "$work/contents" ||
    fail "package lacks '$1 $2 $3' (has: $(grep -F -- " $3" "$work/contents" || echo nothing))"
}
for p in tlsfenced tlsfence-rptd tlsfence; do expect -rwxr-xr-x root/root /usr/sbin/$p; done
expect -rw-r--r-- root/root /etc/tlsfence/tlsfence.conf
expect -rw-r--r-- root/root /lib/systemd/system/tlsfenced.service
expect -rw-r--r-- root/root /lib/systemd/system/tlsfence-rptd.service
expect -rw-r--r-- root/root /usr/lib/sysusers.d/tlsfence.conf
for m in man8/tlsfenced.8 man8/tlsfence-rptd.8 man8/tlsfence.8 man5/tlsfence.conf.5; do
  expect -rw-r--r-- root/root /usr/share/man/$m.gz
done
expect -rw-r--r-- root/root /usr/share/doc/tlsfence/examples/postfix/main.cf.snippet
expect -rw-r--r-- root/root /usr/share/doc/tlsfence/examples/sendmail/sts.mc
expect -rw-r--r-- root/root /usr/share/doc/tlsfence/examples/grafana/tlsfence.json
expect -rw-r--r-- root/root /usr/share/doc/tlsfence/examples/prometheus/alerts.yml
dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles 2>/dev/null | grep -qx /etc/tlsfence/tlsfence.conf ||
  fail "/etc/tlsfence/tlsfence.conf is not a conffile"

# ---- 4. a throwaway Debian 12 root ----------------------------------------------------------
say "the package's dependencies in $base"
flock 9
cp /etc/resolv.conf "$base/etc/resolv.conf"
# The package's dependencies (first alternative of each), so that installing the .deb below
# needs no download and the tree snapshot holds them already.
# systemd too, as on every real system: its systemctl does the offline enabling (--root=/) and
# its systemd-sysusers makes the user; only what needs a running systemd goes to the shim below.
deps="systemd $(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' | grep -v '^$' | tr '\n' ' ')"
printf '#!/bin/sh\nexit 101\n' > "$base/usr/sbin/policy-rc.d" && chmod 755 "$base/usr/sbin/policy-rc.d"
if ! chroot "$base" dpkg-query -W $deps > /dev/null 2>&1; then
  chroot "$base" apt-get update -qq > "$work/apt.log" 2>&1 &&
    chroot "$base" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $deps \
      >> "$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log"; die "installing the dependencies ($deps) failed"; }
fi
rm -f "$base/usr/sbin/policy-rc.d"
flock -u 9

overlay root
root=$work/root
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
apt_install_pkg() { # apt wants a ./relative or absolute path it can tell from a package name
  chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c "cd /var/tmp && apt-get install -y -qq ./$(basename "$deb")"
}

# systemctl: a shim that records what the maintainer scripts ask of systemd. Offline requests
# (--root=…: enable, preset, disable) go to the real systemctl; is-enabled answers from the
# symlinks those made, is-active says "not running", start/stop/restart/daemon-reload are only
# recorded.
mkdir -p "$root/run/systemd/system"
mv "$root/usr/bin/systemctl" "$root/usr/bin/systemctl.real"
cat > "$root/usr/bin/systemctl" <<'SH'
#!/bin/sh
echo "systemctl $*" >> /var/tmp/systemctl.log
case " $* " in *" --root="*) exec /usr/bin/systemctl.real "$@" ;; esac
for a in "$@"; do case $a in
  is-enabled) u=$(eval echo "\${$#}")
    if [ -e "/etc/systemd/system/multi-user.target.wants/$u" ]; then echo enabled; exit 0; fi
    echo disabled; exit 1 ;;
  is-active) exit 3 ;;
  --version) echo "systemd 252 (252.0)"; exit 0 ;;
esac; done
exit 0
SH
chmod 755 "$root/usr/bin/systemctl"
snapshot() { # the file tree, without what dpkg/apt keep about themselves and the test's own files
  chroot "$root" find / -xdev \( -path /proc -o -path /dev -o -path /run -o -path /tmp -o \
    -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/cache -o -path /var/log -o \
    -path /var/tmp \) -prune -o -printf '%M %u:%g %p\n' | sort
}
snapshot > "$work/tree.before"
calls() { cat "$root/var/tmp/systemctl.log" 2>/dev/null; : > "$root/var/tmp/systemctl.log"; }
cp "$deb" "$root/var/tmp/"
pkg=/var/tmp/$(basename "$deb")

say "install with a policy-rc.d that forbids starting services"
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d" && chmod 755 "$root/usr/sbin/policy-rc.d"
apt_install_pkg > "$work/install1.log" 2>&1 ||
  { tail -n 20 "$work/install1.log"; die "apt-get install of the package failed"; }
c=$(calls)
grep -Eq "(start|restart) .*tlsfence" <<<"$c" && fail "a unit was started although policy-rc.d forbids it: $c"
for u in tlsfenced tlsfence-rptd; do
  [ -L "$root/etc/systemd/system/multi-user.target.wants/$u.service" ] || fail "$u.service is not enabled"
done
in_root getent passwd tlsfence > "$work/passwd" || fail "no user tlsfence after install"
IFS=: read -r _ _ uid gid _ home shell < "$work/passwd"
[ "${uid:-9999}" -lt 1000 ] || fail "tlsfence is not a system user (uid $uid)"
case $shell in */nologin|/bin/false) ;; *) fail "tlsfence has a login shell ($shell)";; esac
in_root getent group tlsfence > /dev/null || fail "no group tlsfence after install"
v=$(in_root /usr/sbin/tlsfenced --version 2>&1) || fail "/usr/sbin/tlsfenced --version failed: $v"
grep -qF "${version%%-*}" <<<"$v" || fail "tlsfenced --version says '$v', the package is $version"
in_root /usr/sbin/tlsfence --version > /dev/null 2>&1 || fail "/usr/sbin/tlsfence --version failed"
in_root /usr/sbin/tlsfence-rptd --version > /dev/null 2>&1 || fail "/usr/sbin/tlsfence-rptd --version failed"
in_root /usr/sbin/tlsfenced --config /etc/tlsfence/tlsfence.conf --help > /dev/null 2>&1 ||
  fail "tlsfenced rejects the installed /etc/tlsfence/tlsfence.conf"
in_root stat -c '%a %U:%G %n' /usr/sbin/tlsfenced /etc/tlsfence/tlsfence.conf > "$work/modes"
grep -qx "755 root:root /usr/sbin/tlsfenced" "$work/modes" || fail "installed modes: $(cat "$work/modes")"
grep -qx "644 root:root /etc/tlsfence/tlsfence.conf" "$work/modes" || fail "installed modes: $(cat "$work/modes")"

say "purge, then install again with services allowed"
in_root dpkg --purge tlsfence > "$work/purge1.log" 2>&1 || { cat "$work/purge1.log"; fail "first purge failed"; }
rm -f "$root/usr/sbin/policy-rc.d"
calls > /dev/null
apt_install_pkg > "$work/install2.log" 2>&1 ||
  { tail -n 20 "$work/install2.log"; die "second install failed"; }
c=$(calls)
for u in tlsfenced tlsfence-rptd; do
  grep -Eq "systemctl --quiet --system start .*$u.service" <<<"$c" || fail "$u.service was not started on install: $c"
done

say "upgrade (the same version reinstalled) keeps a changed conffile and restarts the units"
echo "# changed by the admin" >> "$root/etc/tlsfence/tlsfence.conf"
mkdir -p "$root/var/lib/tlsfence" && echo state > "$root/var/lib/tlsfence/cache.db"
in_root dpkg -i "$pkg" > "$work/upgrade.log" 2>&1 || { tail -n 20 "$work/upgrade.log"; fail "reinstall failed"; }
c=$(calls)
for u in tlsfenced tlsfence-rptd; do
  grep -Eq "systemctl --quiet --system (restart|try-restart) .*$u.service" <<<"$c" ||
    fail "$u.service was not restarted on upgrade: $c"
done
grep -q "changed by the admin" "$root/etc/tlsfence/tlsfence.conf" || fail "the upgrade overwrote a changed conffile"

say "remove keeps the conffile and the state, stops the units"
in_root dpkg --remove tlsfence > "$work/remove.log" 2>&1 || { cat "$work/remove.log"; fail "remove failed"; }
c=$(calls)
grep -Eq "stop .*tlsfenced.service" <<<"$c" || fail "tlsfenced.service was not stopped on remove: $c"
[ ! -e "$root/usr/sbin/tlsfenced" ] || fail "/usr/sbin/tlsfenced is still there after remove"
[ -e "$root/etc/tlsfence/tlsfence.conf" ] || fail "remove deleted the conffile"
[ -e "$root/var/lib/tlsfence/cache.db" ] || fail "remove deleted the state"

say "purge leaves nothing behind"
in_root dpkg --purge tlsfence > "$work/purge2.log" 2>&1 || { cat "$work/purge2.log"; fail "purge failed"; }
rm -f "$root/var/tmp/systemctl.log"
snapshot > "$work/tree.after"
# systemd-sysusers keeps backups of the files it changed (Debian leaves system users in place).
if ! diff "$work/tree.before" "$work/tree.after" | grep -E '^[<>]' |
     grep -vE ' /etc/(passwd|group|shadow|gshadow)-?$' > "$work/tree.diff"; then :; fi
[ -s "$work/tree.diff" ] && fail "purge left or removed files: $(head -n 20 "$work/tree.diff")"
in_root dpkg-query -W tlsfence > /dev/null 2>&1 && fail "dpkg still knows tlsfence after purge"

say "done: $fails failure(s); $(basename "$deb"), work dir $work"
[ "$fails" = 0 ]
