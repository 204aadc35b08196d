#pragma once
// DNSSEC validation state of an answer. Never a bool (see libunbound's secure/bogus).
#include <string_view>

namespace tlsfence {

enum class DnssecState {
  secure,         // validated chain of trust
  insecure,       // provably unsigned (no DS on the way down)
  bogus,          // validation failed: signatures expired, wrong, missing…
  indeterminate,  // no answer to judge (lookup failed, timed out)
};

std::string_view to_string(DnssecState s);

}  // namespace tlsfence
