#pragma once
// Which policy domains get a report: those publishing exactly one valid `_smtp._tls` TXT
// record (RFC 8460 §3). A large sender delivers to many domains and few publish one, so the
// record is looked up once per (report day, domain) and the result kept in tlsrpt.db
// (record_lookup): a rebuild or a restart uses it instead of asking again.
//
// A lookup that fails temporarily (SERVFAIL, timeout, DNSSEC bogus) does not drop the report:
// the domain stays pending and is looked up again with the delivery back-off (1 min, 2, 4, …
// capped at 2 h) until `give_up_after` (24 h) from its first lookup, then it is given up
// (recorded, and said so by the caller's log). The sidecar retries only what is due; an
// operator's command (`tlsfence report build|send`) looks pending and given-up ones up at once.
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "parse/tlsrpt_record.h"
#include "rptd/delivery.h"
#include "tlsrpt/store.h"

namespace tlsfence::rptd {

struct GateResult {
  std::vector<std::pair<std::string, parse::TlsrptRecord>> reportable;  // by domain
  std::map<std::string, std::size_t> skipped;                           // reason → domains
  std::size_t skipped_total = 0;
  std::vector<tlsrpt::RecordLookup> pending;  // temporary failure: looked up again later
  std::vector<tlsrpt::RecordLookup> gave_up;  // temporary for too long: no report
  std::size_t looked_up = 0;                  // lookups made now (the rest came from the store)
};

// Decides for each of `domains` (of report day `day`) from the store, looking up through
// `transport` what is not known yet (or pending and due; with RetryFailed::now every pending
// or given-up one), and records what it found.
GateResult check_records(tlsrpt::Store& store, Transport& transport, std::int64_t day,
                         const std::vector<std::string>& domains, std::int64_t now, const Backoff& backoff,
                         RetryFailed retry = RetryFailed::when_due);

// Adds the gate's skipped, pending and given-up domains to `r`'s counts.
void count_gate(const GateResult& gate, DayDelivery& r);
// One line per domain whose lookup failed temporarily ("… waits: …") or was given up.
void print_lookup_waits(std::int64_t day, const GateResult& gate, std::ostream& out);

// "skipped 3 domains without exactly one valid _smtp._tls record (no TLSRPTv1 record: 2, …)"
// or "" when none was skipped.
std::string skipped_summary(const GateResult& g);

}  // namespace tlsfence::rptd
