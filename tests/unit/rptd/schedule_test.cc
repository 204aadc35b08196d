// The report job under a fake clock and a fake transport, on a real tlsrpt.db: the daily build
// happens only at UTC midnight + the random delay (drawn within its bound, spread over hours);
// a failing rua is retried at 1, 2, 4, … minutes (capped) and given up after 24 hours; a
// success stops the retries; a restart resumes pending deliveries from the store without
// sending again what was delivered and without dropping what was planned.
#include "rptd/schedule.h"

#include "fake_transport.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace tlsfence::rptd {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t D = 20780;  // 2026-11-23
constexpr std::int64_t midnight_after_d = (D + 1) * 86400;

class ScheduleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rptd-schedule-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "tlsrpt.db").string();
    options_.meta = {"Example Org", "mailto:ops@sender.example", "sender.example"};
    options_.outbox = dir_ / "outbox";
    // Outcomes of day D for a.example (has a record) and b.example (has none).
    tlsrpt::Store s(db_);
    std::vector<tlsrpt::Outcome> v;
    for (const char* domain : {"a.example", "b.example"}) {
      tlsrpt::Outcome o;
      o.day = D;
      o.policy_domain = domain;
      o.mx_host = std::string("mx1.") + domain;
      v.push_back(o);
    }
    s.add(v);
    s.set_meta("last-report-day", std::to_string(D - 1));  // D-1 was reported: D is next
    clock_.t = D * 86400 + 12 * 3600;                      // noon of D
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs the job from now until `until`, jumping from one due time to the next.
  void drive(ReportJob& job, FakeTransport& t, std::int64_t until) {
    for (int guard = 0; guard < 10000; ++guard) {
      std::ostringstream out;
      const std::int64_t next = job.run_due(t, options_, out);
      ASSERT_GT(next, clock_.t) << "the job must not ask to run again at the same second";
      if (next > until) {
        clock_.t = until;
        return;
      }
      clock_.t = next;
    }
    FAIL() << "too many steps";
  }

  tlsrpt::Delivery delivery(tlsrpt::Store& s, const std::string& uri) {
    for (const auto& d : s.deliveries(D))
      if (d.rua == uri) return d;
    ADD_FAILURE() << "no delivery to " << uri;
    return {};
  }

  fs::path dir_;
  std::string db_;
  FakeClock clock_;
  DeliveryOptions options_;
};

TEST(Backoff, DoublesFromOneMinuteAndIsCapped) {
  Backoff b;
  EXPECT_EQ(backoff_delay(1, b).count(), 60);
  EXPECT_EQ(backoff_delay(2, b).count(), 120);
  EXPECT_EQ(backoff_delay(3, b).count(), 240);
  EXPECT_EQ(backoff_delay(7, b).count(), 3840);
  EXPECT_EQ(backoff_delay(8, b).count(), 7200);
  EXPECT_EQ(backoff_delay(1000, b).count(), 7200);
}

TEST_F(ScheduleTest, DailyBuildOnlyAfterUtcMidnightPlusTheRandomDelay) {
  tlsrpt::Store s(db_);
  FakeTransport t;
  ReportJob job(s, clock_, 42, {});
  EXPECT_EQ(job.pending_day(), D);
  ASSERT_GE(job.build_time(), midnight_after_d);
  ASSERT_LE(job.build_time(), midnight_after_d + 4 * 3600);
  const std::int64_t at = job.build_time();

  for (std::int64_t before : {clock_.t, midnight_after_d - 1, midnight_after_d, at - 1}) {
    if (before < clock_.t) continue;
    clock_.t = before;
    std::ostringstream out;
    EXPECT_EQ(job.run_due(t, options_, out), at) << "at " << before;
    EXPECT_EQ(t.lookups, 0u) << "nothing built before midnight + delay (at " << before << ")";
    EXPECT_TRUE(s.deliveries(D).empty());
    EXPECT_FALSE(fs::exists(options_.outbox));
  }
  clock_.t = at;
  std::ostringstream out;
  const std::int64_t next = job.run_due(t, options_, out);
  EXPECT_EQ(t.sends[mail], std::vector<std::int64_t>{at});
  EXPECT_EQ(t.sends[web], std::vector<std::int64_t>{at});
  EXPECT_EQ(t.lookups, 2u);  // a.example and b.example
  EXPECT_NE(out.str().find("2026-11-23: 1 report of 2 domains, skipped 1 domain without exactly one valid "
                           "_smtp._tls record (no TLSRPTv1 record: 1)"),
            std::string::npos)
      << out.str();
  ASSERT_EQ(s.deliveries(D).size(), 2u);  // only a.example has a record
  EXPECT_TRUE(fs::exists(options_.outbox / s.deliveries(D)[0].file));
  EXPECT_EQ(s.meta("last-report-day"), std::to_string(D));
  // the next build: day D+1, after the next midnight + a new delay
  EXPECT_EQ(job.pending_day(), D + 1);
  EXPECT_GE(job.build_time(), midnight_after_d + 86400);
  EXPECT_LE(job.build_time(), midnight_after_d + 86400 + 4 * 3600);
  EXPECT_EQ(next, job.build_time());
  // nothing more happens until then
  drive(job, t, job.build_time() - 1);
  EXPECT_EQ(t.sends[mail].size(), 1u);
  EXPECT_EQ(t.sends[web].size(), 1u);
}

TEST_F(ScheduleTest, DelayIsSpreadOverHoursWithinItsBoundAndFollowsTheSeed) {
  tlsrpt::Store s(db_);
  std::set<std::int64_t> hours;
  std::int64_t lo = 1'000'000, hi = -1;
  for (std::uint64_t seed = 1; seed <= 400; ++seed) {
    ReportJob job(s, clock_, seed, {});
    const std::int64_t delay = job.build_time() - midnight_after_d;
    ASSERT_GE(delay, 0);
    ASSERT_LE(delay, 4 * 3600);
    lo = std::min(lo, delay);
    hi = std::max(hi, delay);
    hours.insert(delay / 3600);
    EXPECT_EQ(ReportJob(s, clock_, seed, {}).build_time(), job.build_time()) << "same seed, same delay";
  }
  EXPECT_LT(lo, 15 * 60);
  EXPECT_GT(hi, 4 * 3600 - 15 * 60);
  EXPECT_EQ(hours, (std::set<std::int64_t>{0, 1, 2, 3}));
  // A fixed delay (TLSFENCE_RPTD_REPORT_DELAY) and another bound are obeyed.
  ScheduleOptions fixed;
  fixed.fixed_delay = std::chrono::seconds(90);
  EXPECT_EQ(ReportJob(s, clock_, 1, fixed).build_time(), midnight_after_d + 90);
  ScheduleOptions short_bound;
  short_bound.max_delay = std::chrono::seconds(10);
  for (std::uint64_t seed = 1; seed <= 50; ++seed)
    EXPECT_LE(ReportJob(s, clock_, seed, short_bound).build_time(), midnight_after_d + 10);
}

TEST_F(ScheduleTest, FailingRuaRetriedWithBackoffThenGivenUpAfter24Hours) {
  tlsrpt::Store s(db_);
  FakeTransport t;
  t.behaviour = [](const std::string& uri, int) {
    return uri == web ? SendResult{false, "HTTP status 503"} : SendResult{true, "accepted by sendmail"};
  };
  ReportJob job(s, clock_, 7, {});
  const std::int64_t t0 = job.build_time();
  drive(job, t, t0 + 3 * 86400);

  std::vector<std::int64_t> expected{t0};
  for (std::int64_t delay = 60;; delay = std::min<std::int64_t>(delay * 2, 7200)) {
    const std::int64_t next = expected.back() + delay;
    if (next > t0 + 86400) break;
    expected.push_back(next);
  }
  EXPECT_EQ(t.sends[web], expected);
  ASSERT_GE(t.sends[web].size(), 6u);
  EXPECT_EQ(t.sends[web][1] - t.sends[web][0], 60);                              // 1 min
  EXPECT_EQ(t.sends[web][2] - t.sends[web][1], 120);                             // 2
  EXPECT_EQ(t.sends[web][3] - t.sends[web][2], 240);                             // 4
  EXPECT_EQ(t.sends[web][4] - t.sends[web][3], 480);                             // 8
  EXPECT_EQ(t.sends[web].back() - t.sends[web][t.sends[web].size() - 2], 7200);  // capped
  EXPECT_LE(t.sends[web].back(), t0 + 86400);
  EXPECT_GT(t.sends[web].back() + 7200, t0 + 86400);        // no room for another attempt
  EXPECT_EQ(t.sends[mail], std::vector<std::int64_t>{t0});  // delivered once, never again

  const auto d = delivery(s, web);
  EXPECT_EQ(d.state, tlsrpt::DeliveryState::gave_up);
  EXPECT_EQ(d.attempts, expected.size());
  const auto attempts = s.attempts(d.id);
  ASSERT_EQ(attempts.size(), expected.size());
  for (std::size_t i = 0; i + 1 < attempts.size(); ++i) {
    EXPECT_FALSE(attempts[i].ok);
    EXPECT_EQ(attempts[i].detail, "HTTP status 503");
    EXPECT_EQ(attempts[i].next_retry, expected[i + 1]);
    EXPECT_FALSE(attempts[i].gave_up);
  }
  EXPECT_TRUE(attempts.back().gave_up);
  EXPECT_FALSE(attempts.back().next_retry);
  EXPECT_FALSE(s.next_delivery_time());
  EXPECT_EQ(delivery(s, mail).state, tlsrpt::DeliveryState::delivered);
}

TEST_F(ScheduleTest, SuccessStopsRetries) {
  tlsrpt::Store s(db_);
  FakeTransport t;
  t.behaviour = [](const std::string& uri, int n) {
    if (uri == web && n < 2) return SendResult{false, "cannot connect to r.a.example: Connection refused"};
    return SendResult{true, "HTTP status 202"};
  };
  ReportJob job(s, clock_, 7, {});
  const std::int64_t t0 = job.build_time();
  drive(job, t, t0 + 2 * 86400);
  EXPECT_EQ(t.sends[web], (std::vector<std::int64_t>{t0, t0 + 60, t0 + 180}));
  EXPECT_EQ(t.sends[mail], std::vector<std::int64_t>{t0});
  const auto d = delivery(s, web);
  EXPECT_EQ(d.state, tlsrpt::DeliveryState::delivered);
  const auto attempts = s.attempts(d.id);
  ASSERT_EQ(attempts.size(), 3u);
  EXPECT_TRUE(attempts[2].ok);
  EXPECT_EQ(attempts[2].detail, "HTTP status 202");
  EXPECT_FALSE(attempts[2].next_retry);
}

TEST_F(ScheduleTest, RestartResumesPendingRetriesFromTheStore) {
  std::int64_t t0 = 0;
  {
    tlsrpt::Store s(db_);
    FakeTransport t;
    t.behaviour = [](const std::string& uri, int) {
      return uri == web ? SendResult{false, "HTTP status 500"} : SendResult{true, "accepted"};
    };
    ReportJob job(s, clock_, 7, {});
    t0 = job.build_time();
    drive(job, t, t0 + 400);  // attempts at t0, +60, +180; the next is due at +420
    EXPECT_EQ(t.sends[web], (std::vector<std::int64_t>{t0, t0 + 60, t0 + 180}));
  }  // the sidecar stops (or dies: every attempt was committed when it was made)
  tlsrpt::Store s(db_);
  FakeTransport t;  // the receiver works again
  ReportJob job(s, clock_, 99, {});
  EXPECT_EQ(job.pending_day(), D + 1) << "day D is not built again";
  std::ostringstream out;
  EXPECT_EQ(job.run_due(t, options_, out), t0 + 420) << "resumes at the stored retry time";
  EXPECT_TRUE(t.sends.empty());
  drive(job, t, t0 + 2 * 86400);
  EXPECT_EQ(t.sends[web], std::vector<std::int64_t>{t0 + 420});
  EXPECT_TRUE(t.sends[mail].empty()) << "the delivered rua is not sent again";
  EXPECT_EQ(t.lookups, 0u) << "no rebuild of day D";
  EXPECT_EQ(delivery(s, web).state, tlsrpt::DeliveryState::delivered);
  EXPECT_EQ(delivery(s, web).attempts, 4u);
  EXPECT_EQ(delivery(s, mail).attempts, 1u);
}

TEST_F(ScheduleTest, PlannedButNeverAttemptedIsNotDropped) {
  {
    tlsrpt::Store s(db_);
    FakeTransport t;
    clock_.t = midnight_after_d + 100;
    Deliverer deliverer(s, t, clock_, options_);
    std::ostringstream out;
    EXPECT_EQ(deliverer.plan_day(D, out).reports, 1u);
    s.set_meta("last-report-day", std::to_string(D));
    EXPECT_TRUE(t.sends.empty());
  }  // dies between planning and the first attempt
  tlsrpt::Store s(db_);
  FakeTransport t;
  clock_.t = midnight_after_d + 500;
  ReportJob job(s, clock_, 1, {});
  std::ostringstream out;
  job.run_due(t, options_, out);
  EXPECT_EQ(t.sends[mail], std::vector<std::int64_t>{clock_.t});
  EXPECT_EQ(t.sends[web], std::vector<std::int64_t>{clock_.t});
  EXPECT_EQ(t.lookups, 0u);
}

TEST_F(ScheduleTest, RetrySendsTheReportAsBuiltOrRebuildsAMissingFile) {
  tlsrpt::Store s(db_);
  FakeTransport t;
  t.behaviour = [](const std::string& uri, int n) {
    return (uri == web && n < 2) ? SendResult{false, "HTTP status 503"} : SendResult{true, "ok"};
  };
  ReportJob job(s, clock_, 3, {});
  const std::int64_t t0 = job.build_time();
  clock_.t = t0;
  std::ostringstream out;
  job.run_due(t, options_, out);
  tlsrpt::Outcome late;  // a late log line for day D
  late.day = D;
  late.policy_domain = "a.example";
  std::vector<tlsrpt::Outcome> v{late};
  s.add(v);
  drive(job, t, t0 + 60);
  ASSERT_EQ(t.reports[web].size(), 2u);
  EXPECT_EQ(t.reports[web][1], t.reports[web][0]) << "the retry sends the report file that was built";
  EXPECT_NE(t.reports[web][0].find("\"total-successful-session-count\":1"), std::string::npos)
      << t.reports[web][0];
  // without its file the report is built again (from the store) rather than the delivery lost
  fs::remove(options_.outbox / delivery(s, web).file);
  drive(job, t, t0 + 180);
  ASSERT_EQ(t.reports[web].size(), 3u);
  EXPECT_NE(t.reports[web][2].find("\"total-successful-session-count\":2"), std::string::npos)
      << t.reports[web][2];
  EXPECT_TRUE(fs::exists(options_.outbox / delivery(s, web).file));
  EXPECT_EQ(delivery(s, web).state, tlsrpt::DeliveryState::delivered);
}

TEST_F(ScheduleTest, DeliverNoBuildsFilesOnly) {
  tlsrpt::Store s(db_);
  FakeTransport t;
  ScheduleOptions o;
  o.deliver = false;
  o.fixed_delay = std::chrono::seconds(0);
  ReportJob job(s, clock_, 1, o);
  drive(job, t, midnight_after_d + 10);
  EXPECT_TRUE(t.sends.empty());
  EXPECT_TRUE(s.deliveries(D).empty());
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(options_.outbox))
    files += e.path().string().ends_with(".json.gz");
  EXPECT_EQ(files, 1u);  // a.example only: b.example publishes no record
}

}  // namespace
}  // namespace tlsfence::rptd
