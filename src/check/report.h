#pragma once
// What `tlsfence check DOMAIN` found: the policy decision (exactly as the daemon decides it),
// the DNS records it was derived from, the MTA-STS and TLS-RPT records, one STARTTLS probe per
// MX address, and the verdict. Plain data, filled by run_check (run.h), judged by verdict.h,
// printed by output.h.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "check/starttls_probe.h"
#include "parse/tlsrpt_record.h"
#include "policy/dns_source.h"
#include "policy/sts_fetcher.h"
#include "tlsfence/policy.h"

namespace tlsfence::check {

// One DNS answer as shown to the operator.
struct RRsetView {
  std::string name;
  std::uint16_t type = 0;
  std::string status;  // "ok", "nxdomain", "nodata", "servfail", "timeout", "error: …", "not looked up"
  DnssecState dnssec = DnssecState::indeterminate;
  std::string why_bogus;
  std::uint32_t ttl = 0;
  std::vector<std::string> records;  // presentation form: "10 mx.example", "3 1 1 ab…", "text", "192.0.2.1"
  bool looked_up = false;
  bool failed = false;  // SERVFAIL, timeout, resolver error
};

std::string_view type_name(std::uint16_t type);
RRsetView view_of(const DnsAnswer& answer);

// What the policy asks of one MX host's TLS.
enum class Requirement {
  none,  // nothing (no policy, `may`, or a `dane` domain's host without TLSA): opportunistic
  tls,   // STARTTLS must be offered and succeed (`encrypt`, unusable TLSA)
  dane,  // the certificate must match the host's TLSA records (RFC 7672)
  sts,   // MTA-STS: the host must match a policy mx pattern; PKIX chain and host name must verify
  pkix,  // `verify`/`secure` override: PKIX chain and host name must verify
};
std::string_view to_string(Requirement r);

struct HostCheck {
  std::string name;
  std::uint16_t preference = 0;
  RRsetView a, aaaa, tlsa;
  std::vector<TlsaRecord> tlsa_records;  // parsed from `tlsa` (_25._tcp.<name>)
  std::optional<DaneInput> dane;         // the TLSA records the DANE check uses (none: no DANE check)
  Requirement requirement = Requirement::none;
  bool enforced = false;  // false: the policy is not enforced (MTA-STS testing) — failures are notes
  bool listed = true;     // MTA-STS: the host matches a policy mx pattern
  std::string note;       // why this requirement
  std::vector<ProbeResult> probes;
  std::vector<std::string> failures;  // set by judge(): what would make delivery fail
  bool ok = true;
};

struct StsCheck {
  RRsetView txt;
  std::string txt_id;     // id of the one v=STSv1 record
  std::string txt_error;  // why there is no usable record ("" when txt_id is set)
  bool fetched = false;
  StsFetchResult fetch;             // body dropped after parsing
  std::optional<StsPolicy> policy;  // the fetched policy (parsed), or the one in force
  std::string policy_error;         // parse error of the fetched body
  std::string note;                 // e.g. "not consulted: DANE applies"
};

struct TlsrptCheck {
  RRsetView txt;
  std::optional<parse::TlsrptRecord> record;
  std::string error;  // why there is no valid record
};

enum class Overall { ok, fail, temp, no_policy };
std::string_view to_string(Overall o);

struct CheckReport {
  std::string domain;
  PolicyDecision decision;
  std::string answer;  // the socketmap answer text (set by the caller)
  RRsetView mx;
  bool null_mx = false;
  bool implicit_mx = false;
  std::vector<HostCheck> hosts;
  StsCheck sts;
  TlsrptCheck tlsrpt;
  Overall overall = Overall::temp;
  std::string verdict;               // one line: "OK: …", "FAIL: …", "TEMP: …", "no policy: …"
  std::vector<std::string> details;  // every failure (or note) behind the verdict
  int exit_status = 1;               // 0: policy determined and every probe passes, or no policy
};

}  // namespace tlsfence::check
