#pragma once
// SSRF guard for MTA-STS fetches: which addresses may mta-sts.<domain> resolve to before
// tlsfence connects? A recipient domain is attacker-controlled input, so by default only
// globally routable unicast addresses are allowed (mta-sts.allow-private-addresses lifts
// that for loopback, private, link-local, CGNAT and reserved ranges; multicast and the
// unspecified address are never connected to).
// Pure: textual address in, class out.
#include <string_view>

namespace tlsfence::https {

enum class AddressClass {
  global,       // anything not listed below
  loopback,     // 127/8, ::1
  private_use,  // 10/8, 172.16/12, 192.168/16, fc00::/7 (ULA)
  link_local,   // 169.254/16, fe80::/10
  shared,       // 100.64/10 (CGNAT, RFC 6598)
  multicast,    // 224/4, ff00::/8
  unspecified,  // 0.0.0.0, ::
  reserved,     // 0/8, 240/4 (incl. broadcast), 192.0.0/24, documentation, 198.18/15,
                // fec0::/10, 2001:db8::/32, 100::/64, IPv4-compatible ::a.b.c.d
  invalid,      // not an IPv4/IPv6 address
};
// IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses are
// classified by the IPv4 address they carry.

std::string_view to_string(AddressClass c);
AddressClass classify_address(std::string_view address);
bool address_allowed(AddressClass c, bool allow_private_addresses);

}  // namespace tlsfence::https
