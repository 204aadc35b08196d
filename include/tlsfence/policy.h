#pragma once
// The decision for one recipient domain, with every reason that led to it.
// Produced by the DANE and MTA-STS evaluators and by PolicyService; consumed by the
// doors (answer text), `tlsfence explain`, the cache and the TLS-RPT sidecar.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tlsfence/dnssec.h"

namespace tlsfence {

enum class Verdict {
  policy,     // socketmap: OK <level …>
  no_policy,  // socketmap: NOTFOUND
  temp_fail,  // socketmap: TEMP <reason>
};

enum class Source { override_rule, dane, mta_sts, none };

std::string_view to_string(Verdict v);
std::string_view to_string(Source s);

// A TLSA record (RFC 6698 §2.1), data as raw bytes.
struct TlsaRecord {
  std::uint8_t usage = 0;
  std::uint8_t selector = 0;
  std::uint8_t matching_type = 0;
  std::string data;     // raw bytes (not hex)
  bool usable = false;  // RFC 7672 §3.1: usage 2/3, selector 0/1, mtype 0/1/2, right length
};

// One MX host as DANE saw it.
struct DaneHost {
  std::string name;       // as in the MX RRset (A-label, no trailing dot)
  std::string tlsa_base;  // name whose _25._tcp TLSA RRset was used (CNAME expansion)
  std::uint16_t preference = 0;
  DnssecState address_state = DnssecState::indeterminate;
  DnssecState tlsa_state = DnssecState::indeterminate;
  std::vector<TlsaRecord> tlsa;
  bool dane = false;  // secure and at least one usable record
  std::string note;   // human text: why this host is or is not DANE
};

// An MTA-STS policy (RFC 8461 §3.2) as parsed.
struct StsPolicy {
  enum class Mode { enforce, testing, none };
  Mode mode = Mode::none;
  std::vector<std::string> mx;     // patterns as written: "mail.example", "*.example"
  std::uint32_t max_age = 0;       // seconds, capped at limits::sts_max_age_max
  std::string id;                  // from the _mta-sts TXT record
  std::vector<std::string> lines;  // the policy text as lines (TLS-RPT policy-string)
};
std::string_view to_string(StsPolicy::Mode m);

struct PolicyDecision {
  std::string domain;  // normalised A-label, no trailing dot
  Verdict verdict = Verdict::no_policy;
  Source source = Source::none;
  // What follows "OK " on the socketmap, e.g. "dane-only", "dane", "encrypt",
  // "secure match=.example.com servername=hostname" (no attributes).
  std::string level;
  // TEMP text, e.g. "DNSSEC validation of example.com MX failed: signature expired".
  std::string temp_reason;
  // RFC 8460 result type where one applies: "dnssec-invalid", "dane-required",
  // "sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid", "validation-failure".
  std::string result_type;

  DnssecState mx_dnssec = DnssecState::indeterminate;
  std::vector<DaneHost> dane_hosts;
  std::optional<StsPolicy> sts;

  // Smallest TTL (seconds) of the data the decision was derived from; MTA-STS: max_age.
  std::uint32_t ttl = 0;
  std::chrono::system_clock::time_point decided_at{};

  // Human-readable steps, in order, for `tlsfence explain` and the decision log line.
  std::vector<std::string> reasons;
};

}  // namespace tlsfence
