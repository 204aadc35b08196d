// Names of the core enums, as printed in logs, `tlsfence explain` and stored in the cache.
#include "tlsfence/dnssec.h"
#include "tlsfence/policy.h"

namespace tlsfence {

std::string_view to_string(DnssecState s) {
  switch (s) {
    case DnssecState::secure: return "secure";
    case DnssecState::insecure: return "insecure";
    case DnssecState::bogus: return "bogus";
    case DnssecState::indeterminate: return "indeterminate";
  }
  return "indeterminate";
}

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::policy: return "policy";
    case Verdict::no_policy: return "no-policy";
    case Verdict::temp_fail: return "temp-fail";
  }
  return "temp-fail";
}

std::string_view to_string(Source s) {
  switch (s) {
    case Source::override_rule: return "override";
    case Source::dane: return "dane";
    case Source::mta_sts: return "sts";
    case Source::none: return "none";
  }
  return "none";
}

std::string_view to_string(StsPolicy::Mode m) {
  switch (m) {
    case StsPolicy::Mode::enforce: return "enforce";
    case StsPolicy::Mode::testing: return "testing";
    case StsPolicy::Mode::none: return "none";
  }
  return "none";
}

}  // namespace tlsfence
