#pragma once
// DANE for SMTP (RFC 7672 §2): from a recipient domain's MX RRset, its hosts' address and
// TLSA RRsets — all DNSSEC-validated by the injected DnsSource — to a PolicyDecision.
//
// Pure logic over DnsSource: no I/O of its own, no logging, never throws for DNS failures.
// The DnsSource and this coroutine must run on the same single-threaded executor (the
// per-host lookups run concurrently as co_spawned coroutines on it).
//
// Outcomes (RFC 7672 §2.2, RFC 7505, RFC 5321 §5.1):
//  - MX NXDOMAIN, null MX (a single "." exchange), MX RRset insecure → no_policy.
//  - MX (or any needed address/TLSA lookup) bogus → temp_fail, result_type "dnssec-invalid",
//    temp_reason naming the RRset and libunbound's why_bogus.
//  - SERVFAIL, timeout, resolver error, indeterminate state → temp_fail, result_type
//    "dnssec-invalid" (RFC 8460 §4.3.2.1: "no valid records were returned").
//  - No MX (NODATA) → implicit MX: the domain itself, preference 0.
//  - Per host, in preference order: A and AAAA must be secure (insecure → not DANE); a host
//    with no address at all is skipped (it cannot receive mail) and does not count; a CNAME'd
//    host uses TLSA at the expanded name first, then the original name (§2.2.2); TLSA secure
//    with ≥1 usable record → DANE; present but none usable (or malformed) → mandatory TLS.
//  - Every counted host DANE → policy "dane-only"; some → "dane"; none, but some with
//    unusable-only TLSA → "encrypt"; otherwise no_policy.
//  - source = dane only when verdict = policy. ttl = smallest TTL of the answers used
//    (0 for temp_fail). reasons = one human line per step.
#include <string>

#include "async/asio.h"
#include "policy/dns_source.h"
#include "tlsfence/policy.h"

namespace tlsfence::dane {

// At most this many distinct MX hosts are looked up; further hosts count as not DANE
// (so the level is never "dane-only" on hosts that were not checked).
inline constexpr std::size_t mx_hosts_max = 32;

// `domain` must already be normalised (parse::parse_next_hop): A-label, lower case, no dot.
Task<PolicyDecision> evaluate(DnsSource& dns, std::string domain);

}  // namespace tlsfence::dane
