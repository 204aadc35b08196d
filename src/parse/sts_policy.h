#pragma once
// MTA-STS policy file (RFC 8461 §3.2): https://mta-sts.<domain>/.well-known/mta-sts.txt.
//
// Pure and strict: the body is checked against the §3.2 ABNF; a policy that does not
// conform is not used (RFC 8461 §3.3) and is reported as RFC 8460 `sts-policy-invalid`.
// No logging, no exceptions on bad input.
//
// Decisions (where the RFC leaves room):
// - Lines end in CRLF or bare LF (errata 6253); the last line may lack a terminator.
// - A line is `key:` *WSP value *WSP: no space before ':', none at the start of a line;
//   trailing spaces/tabs are allowed (the ABNF's *WSP after each field).
// - Blank lines (empty or only whitespace) are not in the ABNF and make the policy invalid,
//   also at the end (one final line terminator is fine). Other control characters too.
// - `version: STSv1` is required once but may appear anywhere (the RFC requires it, not
//   its position). Keys and the values of version/mode are case-sensitive (%s in ABNF).
// - The first of a repeated non-mx key wins; a later repeat need only be a well-formed
//   extension line (the ABNF reads it as one). Unknown keys are ignored when well-formed.
// - max_age: 1–10 digits; above 31557600 it is capped (errata 7282); 11+ digits invalid.
// - mx: a host name (RFC 5321 Domain: LDH labels, 1–63 chars, ≤ 253 total) or "*." plus
//   one; an all-digit last label (an IPv4 address) is refused; "[…]" literals fail the
//   grammar; so do "*.*.x" and "mail.*.x". At most limits::sts_mx_patterns_max.
// - enforce and testing need at least one mx; none does not.
#include <cstddef>
#include <string>
#include <string_view>

#include "tlsfence/policy.h"

namespace tlsfence::parse {

enum class StsPolicyError {
  none,
  empty,        // empty body
  blank_line,   // an empty or whitespace-only line
  syntax,       // a line that is not `key: value` per the ABNF, or a bad character
  bad_version,  // version other than STSv1
  bad_mode,     // mode other than enforce/testing/none
  bad_max_age,  // not 1–10 digits
  bad_mx,       // not a host name or *.host name
  too_many_mx,  // more than limits::sts_mx_patterns_max
  missing_version,
  missing_mode,
  missing_max_age,
  missing_mx,  // enforce/testing without mx
};
std::string_view to_string(StsPolicyError e);

struct StsPolicyResult {
  StsPolicyError error = StsPolicyError::none;
  StsPolicy policy;      // valid when error == none (id is left empty: it comes from the TXT)
  std::size_t line = 0;  // 1-based line of the first error (0: not tied to a line)
  std::string detail;    // human text for failures
  bool ok() const { return error == StsPolicyError::none; }
};

StsPolicyResult parse_sts_policy(std::string_view body);

// True for a valid mx pattern value: a host name, or "*." + a host name (see above).
bool is_valid_mx_pattern(std::string_view pattern);

}  // namespace tlsfence::parse
