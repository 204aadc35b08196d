#pragma once
// Delivery of built reports (RFC 8460 §5): to every rua of the domain's `_smtp._tls` record
// (exactly one valid record, §3) — mailto: by piping the §5.3 message to the configured
// sendmail command (split on spaces, no shell), https: by POST (rptd/https_post.h).
//
// The record of deliveries is tlsrpt.db (tlsrpt/store.h): building a day plans one delivery
// per rua; every attempt is recorded with its outcome and the next retry time. A failed rua is
// retried with exponential back-off (Backoff: 1 min, 2, 4, … capped at 2 h) for up to 24 hours
// from when it was planned, then given up (recorded). A delivered rua is never sent again; a
// restart resumes the pending ones from the store. Time comes from an injected Clock and the
// network from a Transport, so all of this runs under test without either.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "parse/tlsrpt_record.h"
#include "tlsfence/clock.h"
#include "tlsfence/config.h"
#include "tlsrpt/report.h"
#include "tlsrpt/store.h"

namespace tlsfence::rptd {

// Looks up _smtp._tls.<domain> TXT through libunbound (the [dns] config). nullopt with `error`
// set when there is no usable record.
std::optional<parse::TlsrptRecord> lookup_tlsrpt_record(const Config& cfg, const std::string& domain,
                                                        std::string& error);

// Runs `command` (split on spaces) with `input` on its stdin. Returns "" on exit status 0,
// otherwise a description of the failure.
std::string pipe_to_command(const std::string& command, const std::string& input);

struct SendResult {
  bool ok = false;
  std::string detail;  // "HTTP status 200", "accepted by /usr/sbin/sendmail", or the error
};

// Where reports go: the record lookup and the two kinds of send. Tests substitute a fake.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual std::optional<parse::TlsrptRecord> record(const std::string& domain, std::string& error) = 0;
  virtual SendResult send(const parse::TlsrptRua& rua, const tlsrpt::BuiltReport& report,
                          std::int64_t now_unix) = 0;
};

// The real thing: libunbound, [tlsrpt] sendmail-command, HTTPS POST (with the SSRF guard).
class NetworkTransport final : public Transport {
 public:
  explicit NetworkTransport(const Config& cfg) : cfg_(cfg) {}
  std::optional<parse::TlsrptRecord> record(const std::string& domain, std::string& error) override;
  SendResult send(const parse::TlsrptRua& rua, const tlsrpt::BuiltReport& report,
                  std::int64_t now_unix) override;

 private:
  const Config& cfg_;
};

struct Backoff {
  std::chrono::seconds first{60};
  std::chrono::seconds cap{std::chrono::hours(2)};
  std::chrono::seconds give_up_after{std::chrono::hours(24)};  // counted from the delivery's planning
};
// Delay after the `failures`-th failed attempt (1 → first, 2 → 2 × first, … ≤ cap).
std::chrono::seconds backoff_delay(std::uint64_t failures, const Backoff& b);

struct DeliveryOptions {
  tlsrpt::ReportMeta meta;
  std::filesystem::path outbox;
  Backoff backoff;
};
DeliveryOptions delivery_options(const Config& cfg);

struct DayDelivery {
  std::size_t reports = 0;    // domains with a valid record: report written, rua planned
  std::size_t delivered = 0;  // rua delivered now
  std::size_t skipped = 0;    // rua delivered earlier
  std::size_t failed = 0;     // rua that failed now (retried later, or given up)
  std::size_t gave_up = 0;    // of those: no retry any more
};

class Deliverer {
 public:
  Deliverer(tlsrpt::Store& store, Transport& transport, const Clock& clock, DeliveryOptions options)
      : store_(store), transport_(transport), clock_(clock), options_(std::move(options)) {}

  // Writes `day`'s report of every domain with exactly one valid record into the outbox and
  // plans a delivery to each of its rua (already planned ones are kept as they are). One line
  // per domain without a report to `out`.
  DayDelivery plan_day(std::int64_t day, std::ostream& out);
  // Attempts every pending delivery that is due now; with `day`, every delivery of that day
  // not delivered yet (pending or given up: `tlsfence report send`). One line per attempt
  // ("DOMAIN URI ok|fail DETAIL") to `out`.
  DayDelivery attempt_due(std::ostream& out, std::optional<std::int64_t> day = std::nullopt);

 private:
  std::optional<tlsrpt::BuiltReport> load_report(const tlsrpt::Delivery& d, std::string& error);
  void attempt(const tlsrpt::Delivery& d, DayDelivery& r, std::ostream& out);

  tlsrpt::Store& store_;
  Transport& transport_;
  const Clock& clock_;
  DeliveryOptions options_;
};

// `tlsfence report send --day D`: plan_day + attempt_due(D), through the network. Blocking.
DayDelivery deliver_day(const Config& cfg, tlsrpt::Store& store, std::int64_t day, std::ostream& out);

}  // namespace tlsfence::rptd
