# debian_mirror.sh — sourced, never run: debian_mirror prints the first Debian archive URI of
# this machine's apt sources (deb.debian.org if there is none), for debootstrapping a root the
# same way this machine reaches Debian (tests/package, the Postfix 3.10 capture).
debian_mirror() {
  local m
  m=$(grep -hoE '^(URIs:|deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
        /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
      | grep -oE 'https?://[^[:space:]]+' | grep -v -- '-security' | head -n1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}
