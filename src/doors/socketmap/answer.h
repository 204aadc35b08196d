#pragma once
// The socketmap reply text for a PolicyDecision (INTERFACE.md "Socketmap answers"); `tlsfence
// query` prints exactly this. Pure functions: no I/O, no logging, no exceptions.
//
//   OK <level>                        a policy (DANE, MTA-STS enforce, override)
//   OK secure match=… servername=hostname   MTA-STS testing policy when enforce_testing is on
//   NOTFOUND                          no policy (note the trailing space: "NOTFOUND ")
//   TEMP <reason>                     cannot decide now
//   PERM <reason>                     malformed request (built by the door with perm_answer())
//
// With tlsrpt_attributes, an MTA-STS answer also carries Postfix 3.10's TLSRPT attributes
// (TLSRPT_README, "MTA-STS Support via smtp_tls_policy_maps"):
//   policy_type=sts policy_domain=D mx_host_pattern=P… { policy_string = LINE }…
// Postfix rejects these attributes on a non-STS policy, so DANE and override answers never
// carry them (Postfix reports DANE itself). Postfix splits the reply at spaces and commas and
// protects only "{ … }": a policy line containing '{', '}' or a non-printable byte is left out
// rather than sent mangled; an mx pattern or domain that is not a plain host name is left out.
//
// The reply (without netstring framing) never exceeds limits::socketmap_reply_max bytes:
// attributes are dropped from the end (whole attributes only) to fit; the policy itself is never
// truncated — a policy that cannot fit, or that is not printable single-line ASCII, becomes
// "TEMP …" (never an invalid reply, never a silent "no policy").
#include <cstddef>
#include <string>
#include <string_view>

#include "tlsfence/config.h"
#include "tlsfence/limits.h"
#include "tlsfence/policy.h"

namespace tlsfence::socketmap {

struct AnswerOptions {
  bool tlsrpt_attributes = false;  // [socketmap] tlsrpt-attributes
  bool enforce_testing = false;    // [socketmap] enforce-testing
  std::size_t reply_max = limits::socketmap_reply_max;

  static AnswerOptions from(const Config::Socketmap& c) {
    AnswerOptions o;
    o.tlsrpt_attributes = c.tlsrpt_attributes;
    o.enforce_testing = c.enforce_testing;
    return o;
  }
};

std::string format_answer(const PolicyDecision& decision, const AnswerOptions& options);
// Same text, written into `out` (cleared first): lets the door reuse one buffer per connection.
void format_answer_into(std::string& out, const PolicyDecision& decision, const AnswerOptions& options);

// "PERM <reason>" / "TEMP <reason>" with the reason sanitised.
std::string perm_answer(std::string_view reason);
std::string temp_answer(std::string_view reason);

// Single-line printable ASCII: CR, LF, TAB become spaces, other bytes outside 0x20–0x7E become
// '?', runs of spaces collapse, leading/trailing spaces go; at most `max` bytes.
std::string sanitize_reason(std::string_view text, std::size_t max = 1'000);

// "secure match=P1:P2 servername=hostname" from MTA-STS mx patterns ("*.x" sent as ".x"); empty
// when there is no pattern or one is not a plain host-name pattern.
std::string sts_secure_level(const StsPolicy& policy);

}  // namespace tlsfence::socketmap
