#pragma once
// The sidecar's report job, with time and chance as inputs (a Clock and a seed), so a test can
// run days of it in microseconds:
//   - the daily build: the reports of day D are built (and their rua planned) after UTC
//     midnight ending D plus a random delay, drawn per day uniformly from [0, max_delay] —
//     spread over hours so that not every sender reports at 00:00 — or a fixed delay;
//   - only domains with exactly one valid `_smtp._tls` record get a report (rptd/record_gate.h);
//     a record lookup that failed temporarily is retried when due, with the same back-off;
//   - the retries: every delivery due now is attempted (rptd/delivery.h: back-off, 24 h).
// The last day built is kept in the store (meta "last-report-day"): a restart neither builds a
// day twice nor forgets pending retries. On a first start, or after days down, the next day
// built is yesterday (older days are not reported).
#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <random>

#include "rptd/delivery.h"
#include "tlsfence/clock.h"
#include "tlsrpt/store.h"

namespace tlsfence::rptd {

class FleetReports;

struct ScheduleOptions {
  std::chrono::seconds max_delay{std::chrono::hours(4)};
  std::optional<std::chrono::seconds> fixed_delay;  // tests: TLSFENCE_RPTD_REPORT_DELAY
  bool deliver = true;                              // false: build the files only
};

class ReportJob {
 public:
  ReportJob(tlsrpt::Store& store, const Clock& clock, std::uint64_t seed, ScheduleOptions options);

  // Does what is due at the clock's now: the daily build when its time has come, then every
  // due delivery (through `transport`). Returns the Unix time when something is next due.
  std::int64_t run_due(Transport& transport, const DeliveryOptions& delivery, std::ostream& out);

  void set_fleet(FleetReports* fleet) { fleet_ = fleet; }

  std::int64_t pending_day() const { return day_; }      // the next day to build
  std::int64_t build_time() const { return build_at_; }  // when it is built (Unix time)

 private:
  void schedule(std::int64_t day);
  std::int64_t run_fleet(Transport& transport, std::ostream& out);
  FleetReports* fleet_ = nullptr;
  std::chrono::seconds draw_delay();

  tlsrpt::Store& store_;
  const Clock& clock_;
  std::mt19937_64 random_;
  ScheduleOptions options_;
  std::int64_t day_ = 0;
  std::int64_t build_at_ = 0;
};

}  // namespace tlsfence::rptd
