// The sidecar's report job (see schedule.h).
#include "rptd/schedule.h"

#include <algorithm>
#include <string>

#include "rptd/fleet_reports.h"
#include "tlsrpt/outcome.h"

namespace tlsfence::rptd {
namespace {

constexpr const char* last_day_key = "last-report-day";

std::int64_t unix_now(const Clock& c) {
  return std::chrono::duration_cast<std::chrono::seconds>(c.now().time_since_epoch()).count();
}

}  // namespace

ReportJob::ReportJob(tlsrpt::Store& store, const Clock& clock, std::uint64_t seed, ScheduleOptions options)
    : store_(store), clock_(clock), random_(seed), options_(options) {
  const std::int64_t yesterday = unix_now(clock_) / 86400 - 1;
  std::int64_t day = yesterday;
  if (auto last = store_.meta(last_day_key)) {
    try {
      day = std::max<std::int64_t>(yesterday, std::stoll(*last) + 1);
    } catch (const std::exception&) {
      // an unreadable value: start with yesterday
    }
  }
  schedule(day);
}

std::chrono::seconds ReportJob::draw_delay() {
  if (options_.fixed_delay) return *options_.fixed_delay;
  std::uniform_int_distribution<std::int64_t> d(0, options_.max_delay.count());
  return std::chrono::seconds(d(random_));
}

void ReportJob::schedule(std::int64_t day) {
  day_ = day;
  build_at_ = (day + 1) * 86400 + draw_delay().count();
}

std::int64_t ReportJob::run_due(Transport& transport, const DeliveryOptions& delivery, std::ostream& out) {
  if (fleet_) return run_fleet(transport, out);
  Deliverer deliverer(store_, transport, clock_, delivery);
  if (unix_now(clock_) >= build_at_) {
    deliverer.plan_day(day_, out, options_.deliver);
    store_.set_meta(last_day_key, std::to_string(day_));
    schedule(std::max(day_ + 1, unix_now(clock_) / 86400 - 1));
  }
  deliverer.retry_lookups(out, options_.deliver);
  if (options_.deliver) deliverer.attempt_due(out);
  std::int64_t next = build_at_;
  if (auto due = store_.next_record_lookup_time()) next = std::min(next, *due);
  if (options_.deliver) {
    if (auto due = store_.next_delivery_time()) next = std::min(next, *due);
  }
  return next;
}

}  // namespace tlsfence::rptd

namespace tlsfence::rptd {

std::int64_t ReportJob::run_fleet(Transport& transport, std::ostream& out) {
  const std::int64_t now = unix_now(clock_);
  std::int64_t next = build_at_;
  if (now >= build_at_) {
    const auto fd = fleet_->build_day(day_, transport, out, options_.deliver,
                                      build_at_ + fleet_->options().wait_for_hosts.count());
    if (fd.state == BuildState::built || fd.state == BuildState::built_elsewhere) {
      store_.set_meta(last_day_key, std::to_string(day_));
      schedule(std::max(day_ + 1, now / 86400 - 1));
      next = build_at_;
    } else {
      next = now + 60;
    }
  }
  fleet_->retry_lookups(transport, out, options_.deliver);
  if (options_.deliver) fleet_->attempt_due(transport, out);
  if (auto due = store_.next_record_lookup_time()) next = std::min(next, *due);
  if (options_.deliver) {
    if (auto due = fleet_->next_due()) next = std::min(next, *due);
  }
  return next;
}

}  // namespace tlsfence::rptd
