#pragma once
// Delivery of built reports (RFC 8460 §5): to every rua of the domain's `_smtp._tls` record
// (exactly one valid record, §3) — mailto: by piping the §5.3 message to the configured
// sendmail command (split on spaces, no shell), https: by POST (rptd/https_post.h).
//
// Only domains with exactly one valid record get a report: rptd/record_gate.h looks the record
// up once per (day, domain) and keeps the answer in tlsrpt.db; a temporary failure keeps the
// domain pending and is looked up again (retry_lookups) within the delivery window.
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
#include "policy/dns_source.h"
#include "tlsfence/clock.h"
#include "tlsfence/config.h"
#include "tlsrpt/report.h"
#include "tlsrpt/store.h"

namespace tlsfence::rptd {

struct GateResult;
// Record lookups that failed temporarily: looked up again when their retry is due (the
// sidecar), or now (an operator's command).
enum class RetryFailed { when_due, now };

// What one `_smtp._tls.<domain>` TXT lookup found: valid (detail: the record's text), none
// (detail: why — no record, several, malformed) or temporary (detail: the DNS error).
struct RecordAnswer {
  tlsrpt::RecordState state = tlsrpt::RecordState::none;
  std::string detail;
};

// Reads a TXT answer the RFC 8460 §3 way (pure; exposed for tests).
RecordAnswer record_answer(const DnsAnswer& answer);

// Looks up _smtp._tls.<domain> TXT of every domain through one libunbound resolver (the [dns]
// config), up to `parallel` lookups at a time. Blocking; answers in the order of `domains`.
std::vector<RecordAnswer> lookup_tlsrpt_records(const Config& cfg, const std::vector<std::string>& domains,
                                                std::size_t parallel = 64);

// Runs `command` (split on spaces) followed by `extra_args` with `input` on its stdin. Returns
// "" on exit status 0, otherwise a description of the failure.
std::string pipe_to_command(const std::string& command, const std::string& input,
                            const std::vector<std::string>& extra_args = {});

// Report mail is sent From: and with the envelope sender tlsrpt-noreply@SUBMITTER (its
// Message-ID starts with tlsrpt::own_message_id_prefix: the log correlators skip its sessions).
// The envelope sender is given as `-f SENDER` unless the command has a -f of its own (or
// [tlsrpt] submitter is empty).
std::string report_sender(const Config& cfg);
std::vector<std::string> envelope_sender_args(const std::string& command, const std::string& sender);

struct SendResult {
  bool ok = false;
  std::string detail;  // "HTTP status 200", "accepted by /usr/sbin/sendmail", or the error
};

// Where reports go: the record lookup and the two kinds of send. Tests substitute a fake.
class Transport {
 public:
  virtual ~Transport() = default;
  // One answer per domain, in order (rptd/record_gate.h caches them per day).
  virtual std::vector<RecordAnswer> records(const std::vector<std::string>& domains) = 0;
  virtual SendResult send(const parse::TlsrptRua& rua, const tlsrpt::BuiltReport& report,
                          std::int64_t now_unix) = 0;
};

class DkimSigner;

// The real thing: libunbound, [tlsrpt] sendmail-command, HTTPS POST (with the SSRF guard).
// With a signer, report mail is DKIM-signed (rptd/dkim_signer.h); a signing failure fails the
// attempt (retried like any other).
class NetworkTransport final : public Transport {
 public:
  explicit NetworkTransport(const Config& cfg, const DkimSigner* signer = nullptr)
      : cfg_(cfg), signer_(signer) {}
  std::vector<RecordAnswer> records(const std::vector<std::string>& domains) override;
  SendResult send(const parse::TlsrptRua& rua, const tlsrpt::BuiltReport& report,
                  std::int64_t now_unix) override;

 private:
  const Config& cfg_;
  const DkimSigner* signer_;
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
  std::size_t reports = 0;           // domains with a valid record: report written, rua planned
  std::size_t without_record = 0;    // domains skipped: no valid record (RFC 8460 §3)
  std::size_t lookups_pending = 0;   // record lookup failed temporarily: retried later
  std::size_t lookups_given_up = 0;  // … for too long: no report
  std::size_t delivered = 0;         // rua delivered now
  std::size_t skipped = 0;           // rua delivered earlier
  std::size_t failed = 0;            // rua that failed now (retried later, or given up)
  std::size_t gave_up = 0;           // of those: no retry any more
};

class Deliverer {
 public:
  Deliverer(tlsrpt::Store& store, Transport& transport, const Clock& clock, DeliveryOptions options)
      : store_(store), transport_(transport), clock_(clock), options_(std::move(options)) {}

  // Writes `day`'s report of every domain with exactly one valid record (rptd/record_gate.h)
  // into the outbox and, with `deliver`, plans a delivery to each of its rua (already planned
  // ones are kept as they are). To `out`: one summary line ("DAY: N reports, skipped …"), and
  // one line per domain whose record lookup failed temporarily or was given up.
  DayDelivery plan_day(std::int64_t day, std::ostream& out, bool deliver = true,
                       RetryFailed retry = RetryFailed::when_due);
  // Looks up again every record whose temporary failure is due for a retry, and reports (and
  // plans, with `deliver`) the domains that now have a valid record.
  DayDelivery retry_lookups(std::ostream& out, bool deliver = true);
  // Attempts every pending delivery that is due now; with `day`, every delivery of that day
  // not delivered yet (pending or given up: `tlsfence report send`). One line per attempt
  // ("DOMAIN URI ok|fail DETAIL") to `out`.
  DayDelivery attempt_due(std::ostream& out, std::optional<std::int64_t> day = std::nullopt);

 private:
  std::optional<tlsrpt::BuiltReport> load_report(const tlsrpt::Delivery& d, std::string& error);
  void report_domains(std::int64_t day, const GateResult& gate, bool deliver, DayDelivery& r,
                      std::ostream& out);
  void attempt(const tlsrpt::Delivery& d, DayDelivery& r, std::ostream& out);

  tlsrpt::Store& store_;
  Transport& transport_;
  const Clock& clock_;
  DeliveryOptions options_;
};

// `tlsfence report send --day D`: plan_day + attempt_due(D), through the network (report mail
// signed when [tlsrpt] dkim-key is set; a bad key throws DkimConfigError). Blocking.
DayDelivery deliver_day(const Config& cfg, tlsrpt::Store& store, std::int64_t day, std::ostream& out);

}  // namespace tlsfence::rptd
