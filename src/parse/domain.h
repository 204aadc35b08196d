#pragma once
// Next-hop keys as an MTA sends them (Postfix smtp_tls_policy_maps, Sendmail Ksts), turned
// into a normalised recipient domain: lower case, A-labels (IDNA2008 / UTS #46
// non-transitional through libidn2), no trailing dot.
//
// Pure: no logging, no exceptions on bad input.
//
// Policy decisions documented here (and tested in tests/unit/domain):
//  - `[1.2.3.4]`, `[ipv6:…]`, `[host]`, `[host]:port`, `host:port`, bare IPv4/IPv6 literals
//    are next hops that are not a domain: the caller answers "no policy".
//  - A domain must be LDH after IDNA (letters, digits, hyphen; no leading/trailing hyphen in
//    a label). An underscore is NOT accepted: mail domains and MX hosts are host names
//    (RFC 5321 §2.3.5), and an `_` name can never be a DANE/MTA-STS recipient domain.
//  - Limits: labels 1..63 octets, the whole name at most 253 octets (limits.h).
#include <string>
#include <string_view>

namespace tlsfence::parse {

enum class NextHopKind {
  domain,        // `domain` holds the normalised A-label name
  not_a_domain,  // IP literal, [host], host:port …: no policy applies
  invalid,       // malformed: `error` says why
};

struct NextHop {
  NextHopKind kind = NextHopKind::invalid;
  std::string domain;  // set when kind == domain
  std::string error;   // set when kind == invalid
};

NextHop parse_next_hop(std::string_view key);

// True for an A-label host name: LDH labels of 1..63 octets (either case), no leading or
// trailing hyphen, at most 253 octets, no trailing dot, at least one label, the last label
// not all-numeric (so an IPv4 literal is not a host name).
bool is_valid_hostname(std::string_view name);

}  // namespace tlsfence::parse
