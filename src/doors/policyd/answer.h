#pragma once
// The policy delegation door's decisions without I/O (server.h serves them over a socket and
// describes the protocol): what one well-framed request needs looked up, and its action once
// the lookup is done. Standard library only, so the fuzz target tests/fuzz/policyd_session
// drives the code the door runs.
#include <optional>
#include <string>
#include <string_view>

#include "parse/policyd_attrs.h"
#include "policy/forced_tls.h"
#include "policy/reception_rules.h"
#include "tlsfence/policy.h"

namespace tlsfence::policyd {

// `action=451 4.3.5 …protocol error: <what>` without "action=": a framing error or a request
// that is not an smtpd_access_policy one.
std::string protocol_error_action(std::string_view what);

struct RequestPlan {
  std::string error;  // non-empty: answer this (a protocol error), no lookup
  std::string key;    // the recipient domain to look up ("" when none)
  bool wait = false;  // wait for the lookup (false: start it only; the answer cannot use it)
};
RequestPlan plan_request(const parse::PolicydRequest& request, const policy::ReceptionOptions& options);

struct Answer {
  enum class Outcome { dunno, filtered, refused };
  std::string action;  // without "action=" and framing
  Outcome outcome = Outcome::dunno;
};
// The action for a planned request: `decision` is nullopt when there was nothing to look up,
// the lookup was not waited for, or it came late. Logs refusals and forced TLS.
Answer decide_action(const parse::PolicydRequest& request, const std::optional<PolicyDecision>& decision,
                     const policy::ReceptionOptions& options, const policy::ForcedTls& forced);

}  // namespace tlsfence::policyd
