#pragma once
// Judging a CheckReport (pure, no I/O): what the policy requires of each MX host
// (assign_requirements, before the probes) and whether delivery under the policy would
// succeed given the probe results (judge, after them).
//
// Exit status (INTERFACE.md allows 0, 1, 2 only):
//   0 — the policy was determined and every MX address passes what it requires, or there is
//       no policy (the probes are shown for information; MTA-STS testing failures are notes);
//   1 — TEMP (the policy cannot be determined: DNSSEC bogus, SERVFAIL, timeout) or FAIL
//       (some MX host would be refused under the policy);
//   2 — usage or config error (decided by the caller, never here).
#include "check/report.h"

namespace tlsfence::check {

// Sets requirement, enforced, listed, note and dane of every host from report.decision
// (and the hosts' own TLSA views for `dane` overrides).
void assign_requirements(CheckReport& report);

// Sets every host's failures/ok, and overall, verdict, details and exit_status.
void judge(CheckReport& report);

// The failure of one probe under the host's requirement ("" when it passes or nothing is
// required).
std::string probe_failure(const HostCheck& host, const ProbeResult& probe);

}  // namespace tlsfence::check
