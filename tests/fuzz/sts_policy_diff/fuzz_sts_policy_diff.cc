// Differential fuzz target: the strict MTA-STS policy parser (src/parse/sts_policy.h) and an
// independent checker written from RFC 8461 §3.2's ABNF (rfc8461_abnf.h) must agree on which
// bodies are valid policies. A disagreement prints both verdicts and aborts.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "parse/sts_policy.h"
#include "rfc8461_abnf.h"
#include "tlsfence/limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto strict = tlsfence::parse::parse_sts_policy(body);
  const bool abnf = tlsfence::fuzz::rfc8461_policy_valid(body, tlsfence::limits::sts_mx_patterns_max);
  if (strict.ok() != abnf) {
    std::fprintf(stderr, "sts_policy_diff: parser says %s (%s, line %zu: %s), RFC 8461 checker says %s\n",
                 strict.ok() ? "valid" : "invalid", std::string(to_string(strict.error)).c_str(), strict.line,
                 strict.detail.c_str(), abnf ? "valid" : "invalid");
    std::abort();
  }
  return 0;
}
