#pragma once
// One TLS session outcome as TLS-RPT counts it, and the policy it is reported under.
// Produced by the log correlators and from libtlsrpt datagrams, aggregated by Store,
// turned into RFC 8460 reports by report.h.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parse/tlsrpt_datagram.h"
#include "tlsfence/tlsrpt_result.h"

namespace tlsfence::tlsrpt {

// Every report mail the sidecar sends has a Message-ID "<tlsfence-report.HASH.TIME@SUBMITTER>":
// the log correlators recognise their own report mail by it and do not count the sessions that
// delivered it (no report loops).
inline constexpr std::string_view own_message_id_prefix = "tlsfence-report.";

// The policy of RFC 8460 §4.4 ("policy" object of a report).
struct ReportPolicy {
  TlsrptPolicyType type = TlsrptPolicyType::no_policy_found;
  std::vector<std::string> strings;   // MTA-STS policy lines; TLSA records as "u s m HEX"
  std::string domain;                 // policy-domain
  std::vector<std::string> mx_hosts;  // MTA-STS mx patterns / DANE MX hosts
  bool operator==(const ReportPolicy&) const = default;
};

struct Outcome {
  std::int64_t day = 0;       // UTC day: days since 1970-01-01
  std::string policy_domain;  // the recipient (next-hop) domain the report is about; lower case
  ReportPolicy policy;        // set by attribute(); until then no-policy-found for policy_domain

  std::string mx_host;       // receiving-mx-hostname
  std::string receiving_ip;  // receiving-ip
  std::string sending_ip;    // sending-mta-ip ("" when the source does not say)
  std::string helo;          // receiving-mx-helo (datagrams only)

  std::optional<TlsrptResult> failure;  // nullopt: a successful TLS session
  // A certificate failure seen under opportunistic TLS (Sendmail verify=FAIL): a failure only
  // when the domain's policy asked for authentication; attribute() decides.
  bool failure_needs_policy = false;
  std::string failure_reason_code;     // stable text: "untrusted issuer /CN=…", X509 code…
  std::string additional_information;  // datagram "a" (a URI per §4.4); never part of grouping

  bool success() const { return !failure.has_value(); }
};

// Gives the outcome the policy that was in force for its domain (from the shared cache;
// absent → no-policy-found). A soft certificate failure becomes a success when that policy
// asks for no authentication.
void attribute(Outcome& o, std::optional<ReportPolicy> policy);

// Outcomes carried by one libtlsrpt datagram (one per policy), on the UTC day of unix_time.
std::vector<Outcome> outcomes_from_datagram(const parse::Datagram& d, std::int64_t unix_time);

// UTC day number of a Unix time, and the "YYYY-MM-DD" form of a day (and back).
std::int64_t utc_day(std::int64_t unix_seconds);
std::string day_string(std::int64_t day);
std::optional<std::int64_t> parse_day(std::string_view yyyy_mm_dd);

// Lower-case, no trailing dot: the form domains are stored and reported in.
std::string normalize_domain(std::string_view d);

}  // namespace tlsfence::tlsrpt
