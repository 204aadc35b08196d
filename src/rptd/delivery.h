#pragma once
// Delivery of built reports: the rua of a domain's `_smtp._tls` record (exactly one valid
// record, RFC 8460 §3) and mailto: delivery by piping the §5.3 message to the configured
// sendmail command (split on spaces, no shell). Every attempt is appended to
// OUTBOX/deliveries.log ("UNIX-TIME DAY DOMAIN URI ok|fail DETAIL").
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "parse/tlsrpt_record.h"
#include "tlsfence/asio.h"
#include "tlsfence/config.h"
#include "tlsrpt/report.h"

namespace tlsfence::rptd {

// Looks up _smtp._tls.<domain> TXT through libunbound (the [dns] config). nullopt with `error`
// set when there is no usable record.
std::optional<parse::TlsrptRecord> lookup_tlsrpt_record(const Config& cfg, const std::string& domain,
                                                        std::string& error);

// Runs `command` (split on spaces) with `input` on its stdin. Returns "" on exit status 0,
// otherwise a description of the failure.
std::string pipe_to_command(const std::string& command, const std::string& input);

struct DeliveryAttempt {
  std::int64_t unix_time = 0;
  std::string day, domain, uri;
  bool ok = false;
  std::string detail;
};
void record_attempt(const std::filesystem::path& outbox, const DeliveryAttempt& a);
std::vector<DeliveryAttempt> read_attempts(const std::filesystem::path& outbox);

}  // namespace tlsfence::rptd

namespace tlsfence::rptd {

struct DayDelivery {
  std::size_t reports = 0;    // domains with a valid record: report written to the outbox
  std::size_t delivered = 0;  // rua delivered now
  std::size_t skipped = 0;    // rua already delivered earlier (deliveries.log)
  std::size_t failed = 0;     // rua that failed now (retry later)
};

// Builds `day`'s reports into the outbox and delivers each to every rua of its domain's
// `_smtp._tls` record (domains without exactly one valid record get none), skipping rua already
// delivered for that day. mailto: through [tlsrpt] sendmail-command; https: not implemented yet
// (recorded as a failure). One line per domain / attempt is written to `out`. Blocking.
DayDelivery deliver_day(const Config& cfg, tlsrpt::Store& store, std::int64_t day, std::ostream& out);

}  // namespace tlsfence::rptd
