#pragma once
// FleetReports — TLS-RPT for a fleet ([fleet] postgresql): every host's outcomes in the fleet's
// PostgreSQL, one report per policy domain and day, built by one host, each rua delivered once.
//
// - Upload. Outcomes are committed to this host's tlsrpt.db first, as on a single host (kill -9
//   loses nothing); the store marks each (day, domain) it changed (tlsrpt::Store::
//   pending_uploads). An upload writes the host's ABSOLUTE aggregates of those (day, domain)s
//   (tlsfence_tlsrpt_outcomes, one row per day, domain and host; an older snapshot never
//   replaces a newer one: session counts only grow), then clears the marks still at the
//   generation uploaded. Sending a snapshot twice changes nothing, so nothing is doubled; a mark
//   is cleared only after COMMIT, so nothing is lost. While PostgreSQL is unreachable the marks
//   wait in tlsrpt.db. Each complete upload also moves the host's mark in
//   tlsfence_tlsrpt_uploads: everything this host committed before `uploaded_through` is there.
// - Build. The day's build is claimed in tlsfence_tlsrpt_days (INSERT … ON CONFLICT, taken over
//   only when the holder's lease expired). The daily job first waits, at most `wait_for_hosts`,
//   for every host that uploaded during the day to have uploaded past its end. The holder sums
//   every host's aggregates per domain (tlsrpt::merge_aggregates), looks up the `_smtp._tls`
//   records (rptd/record_gate.h, kept in its own tlsrpt.db), and in one transaction — guarded so
//   that a holder whose claim was taken over commits nothing — stores each report (its JSON) and
//   plans one delivery per rua, leased to itself.
// - Delivery. A delivery is claimed with one UPDATE (FOR UPDATE SKIP LOCKED): free, this
//   process's own, or its lease expired. The lease (host and pid) lasts `lease`; after a failed
//   attempt the holder keeps it until the retry is due plus `lease`, so retries stay with one
//   process while it lives and another host takes over when it dies. Attempts are shared rows
//   (which host, when, what happened); back-off and give-up are rptd/delivery.h's.
// - Times are this host's clock (Unix seconds): the fleet's hosts are expected to run NTP.
// All calls block (bounded by `timeout` each); a database failure is a result, never a throw.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "fleet/client.h"
#include "rptd/delivery.h"
#include "tlsfence/clock.h"
#include "tlsrpt/store.h"

namespace tlsfence::rptd {

struct FleetOptions {
  std::string host;                           // [fleet] host
  std::int64_t pid = 0;                       // with host: the owner of a lease
  std::chrono::milliseconds timeout{10'000};  // each database call
  std::chrono::seconds lease{600};            // a build or delivery claim
  std::chrono::seconds wait_for_hosts{1800};  // the daily build waits for lagging uploads
  std::chrono::seconds upload_margin{60};     // "uploaded past the day's end" = end + margin
  std::size_t upload_batch = 2000;            // (day, domain)s per upload transaction
};
// The options of this process on `host` (the environment variables TLSFENCE_FLEET_LEASE and
// TLSFENCE_FLEET_WAIT, in seconds, shorten lease and wait_for_hosts: for tests).
FleetOptions fleet_options(const std::string& host);

// One host's upload mark as stored (pure decision below, unit-tested).
struct HostUpload {
  std::string host;
  std::int64_t uploaded_through = 0;
  std::int64_t last_upload = 0;
  std::uint64_t pending = 0;
};
// The hosts the build of `day` waits for: those that uploaded during or after the day but not
// yet everything they committed until its end (+ margin). Sorted by name.
std::vector<std::string> lagging_hosts(const std::vector<HostUpload>& hosts, std::int64_t day,
                                       std::chrono::seconds margin);

struct UploadResult {
  bool ok = true;
  std::string error;
  std::size_t uploaded = 0;  // (day, domain) rows written
  std::size_t remaining = 0;
};

// The fleet's pending deliveries as last seen by next_due() (the sidecar's metrics).
struct FleetPending {
  std::uint64_t pending = 0, retries = 0;  // not delivered nor given up; of those, failed at least once
  std::int64_t oldest_retry_created = 0;   // when the oldest retry's delivery was planned (0: none)
};

enum class BuildState {
  built,            // this call built the day
  built_elsewhere,  // done before (by this or another host)
  waiting,          // for lagging uploads, or another host holds the build: try again later
  failed,           // the database could not be asked: try again later
};

struct FleetDay {
  BuildState state = BuildState::failed;
  DayDelivery delivery;
};

class FleetReports {
 public:
  FleetReports(fleet::FleetClient& client, tlsrpt::Store& local, const Clock& clock, DeliveryOptions delivery,
               FleetOptions options);

  // Upload: the statements for up to upload_batch marked (day, domain)s, and what to clear
  // once they committed (the sidecar runs them asynchronously; upload() blocks).
  struct Batch {
    std::vector<tlsrpt::PendingUpload> rows;
    std::vector<fleet::Statement> statements;
  };
  Batch prepare_upload();
  void uploaded(const Batch& batch) { local_.uploaded(batch.rows); }
  UploadResult upload();  // every marked row, batch after batch

  // The report of `day` for the fleet: upload, wait for lagging hosts (until `wait_until`; none
  // for an operator's command), claim, build, store, plan (with `deliver`), then attempt this
  // day's deliveries. One summary line to `out`, and what it waits for.
  FleetDay build_day(std::int64_t day, Transport& transport, std::ostream& out, bool deliver,
                     std::optional<std::int64_t> wait_until, RetryFailed retry = RetryFailed::when_due);
  // Record lookups of this host's builds that failed temporarily and are due: looked up again,
  // and the domains now reportable get their report (and rua planned).
  DayDelivery retry_lookups(Transport& transport, std::ostream& out, bool deliver);
  // Every delivery this process may claim and is due; with `day`, every undelivered one of that
  // day whose lease is free (`tlsfence report send`). One line per attempt to `out`.
  DayDelivery attempt_due(Transport& transport, std::ostream& out, std::optional<std::int64_t> day = {});
  // When a delivery this process could attempt is next due (nullopt: none, or unknown); also
  // refreshes pending().
  std::optional<std::int64_t> next_due();
  std::optional<FleetPending> pending() const { return pending_; }

  // Every host's aggregates of `day` summed per domain (`domains` empty: all). Rows that do not
  // decode are named on `warnings` and left out. nullopt when the database cannot be asked.
  std::optional<std::map<std::string, std::vector<tlsrpt::PolicyAggregate>>> day_aggregates(
      std::int64_t day, const std::vector<std::string>& domains, std::ostream& warnings, std::string& error);

  // `tlsfence report list` for the fleet; false (error set) when the database cannot be asked.
  bool list(std::ostream& out, std::string& error);

  const FleetOptions& options() const { return options_; }

 private:
  std::int64_t now() const;
  fleet::Outcome call(std::vector<fleet::Statement> statements);
  // Builds and stores the reports of `domains` of `day`; with `guard`, only while this process
  // holds the day's claim (then the day is marked built).
  bool store_reports(std::int64_t day, const std::vector<std::string>& domains, Transport& transport,
                     std::ostream& out, bool deliver, bool guard, RetryFailed retry, DayDelivery& r);
  void attempt(const fleet::Row& claimed, Transport& transport, DayDelivery& r, std::ostream& out);

  fleet::FleetClient& client_;
  tlsrpt::Store& local_;
  const Clock& clock_;
  DeliveryOptions delivery_;
  FleetOptions options_;
  std::optional<FleetPending> pending_;
};

}  // namespace tlsfence::rptd
