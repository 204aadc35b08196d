// Which domains get a report (RFC 8460 §3: exactly one valid _smtp._tls record), on a real
// tlsrpt.db with a fake transport and clock: how a TXT answer is read; the answer of a
// (day, domain) is kept, so rebuilds and restarts do not look up again; a temporary failure
// keeps the domain pending and is retried with the back-off until a record is found (report
// built and delivered then) or 24 h have passed (given up, said so).
#include "rptd/record_gate.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "fake_transport.h"
#include "rptd/schedule.h"

namespace tlsfence::rptd {
namespace {

namespace fs = std::filesystem;
using S = tlsrpt::RecordState;

constexpr std::int64_t D = 20780;  // 2026-11-23

std::string txt_rdata(std::string_view text) {
  std::string rd;
  while (!text.empty()) {
    const auto n = std::min<std::size_t>(text.size(), 255);
    rd += static_cast<char>(n);
    rd += text.substr(0, n);
    text.remove_prefix(n);
  }
  return rd;
}

DnsAnswer txt_answer(std::vector<std::string> texts, int rc = rcode::noerror) {
  DnsAnswer a;
  a.rcode = rc;
  for (const auto& t : texts) a.rdata.push_back(txt_rdata(t));
  a.havedata = !a.rdata.empty();
  return a;
}

TEST(RecordAnswer, ReadsTheTxtAnswerTheRfc8460Way) {
  const std::string good = "v=TLSRPTv1; rua=mailto:r@a.example";
  auto a = record_answer(txt_answer({"v=spf1 -all", good}));
  EXPECT_EQ(a.state, S::valid);
  EXPECT_EQ(a.detail, good);
  a = record_answer(txt_answer({}, rcode::nxdomain));
  EXPECT_EQ(a.state, S::none);
  EXPECT_EQ(a.detail, "no TLSRPTv1 record");
  a = record_answer(txt_answer({"v=spf1 -all"}));
  EXPECT_EQ(a.state, S::none);
  EXPECT_EQ(a.detail, "no TLSRPTv1 record");
  a = record_answer(txt_answer({good, "v=TLSRPTv1; rua=mailto:other@a.example"}));
  EXPECT_EQ(a.state, S::none);
  EXPECT_EQ(a.detail, "more than one TLSRPTv1 record");
  a = record_answer(txt_answer({"v=TLSRPTv1; rua=ftp://r.a.example/x"}));
  EXPECT_EQ(a.state, S::none);
  EXPECT_EQ(a.detail.rfind("malformed TLSRPTv1 record: ", 0), 0u) << a.detail;
  DnsAnswer servfail;
  servfail.rcode = rcode::servfail;
  EXPECT_EQ(record_answer(servfail).state, S::temporary);
  DnsAnswer timeout;
  timeout.timed_out = true;
  EXPECT_EQ(record_answer(timeout).state, S::temporary);
  EXPECT_EQ(record_answer(timeout).detail, "TXT lookup timed out");
  auto bogus = txt_answer({good});
  bogus.dnssec = DnssecState::bogus;
  EXPECT_EQ(record_answer(bogus).state, S::temporary);
}

class RecordGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rptd-gate-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "tlsrpt.db").string();
    options_.meta = {"Example Org", "mailto:ops@sender.example", "sender.example"};
    options_.outbox = dir_ / "outbox";
    tlsrpt::Store s(db_);
    std::vector<tlsrpt::Outcome> v;
    for (const char* domain : {"a.example", "b.example", "c.example"}) {
      tlsrpt::Outcome o;
      o.day = D;
      o.policy_domain = domain;
      v.push_back(o);
    }
    s.add(v);
    s.set_meta("last-report-day", std::to_string(D - 1));
    clock_.t = (D + 1) * 86400 + 600;  // the morning after D
    t_.clock = &clock_;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::size_t files() {
    std::size_t n = 0;
    if (fs::exists(options_.outbox))
      for (const auto& e : fs::directory_iterator(options_.outbox))
        n += e.path().string().ends_with(".json.gz");
    return n;
  }

  fs::path dir_;
  std::string db_;
  FakeClock clock_;
  FakeTransport t_;
  DeliveryOptions options_;
};

TEST_F(RecordGateTest, OneLookupPerDomainAndDayAcrossRebuildsAndRestarts) {
  {
    tlsrpt::Store s(db_);
    Deliverer d(s, t_, clock_, options_);
    std::ostringstream out;
    const auto r = d.plan_day(D, out);
    EXPECT_EQ(r.reports, 1u);
    EXPECT_EQ(r.without_record, 2u);
    EXPECT_EQ(t_.lookups, 3u);
    EXPECT_NE(out.str().find("2026-11-23: 1 report of 3 domains, skipped 2 domains without exactly one valid "
                             "_smtp._tls record (no TLSRPTv1 record: 2)"),
              std::string::npos)
        << out.str();
  }
  tlsrpt::Store s(db_);  // a restart
  Deliverer d(s, t_, clock_, options_);
  std::ostringstream out;
  EXPECT_EQ(d.plan_day(D, out).reports, 1u);
  EXPECT_EQ(d.plan_day(D, out, true, RetryFailed::now).reports, 1u);  // `report send`: known answers kept
  EXPECT_EQ(t_.lookups, 3u) << "answers come from tlsrpt.db";
  const auto known = s.record_lookup(D, "a.example");
  ASSERT_TRUE(known);
  EXPECT_EQ(known->state, S::valid);
  EXPECT_EQ(s.record_lookup(D, "b.example")->detail, "no TLSRPTv1 record");
  EXPECT_EQ(s.deliveries(D).size(), 2u);
  // another day is another lookup
  tlsrpt::Outcome o;
  o.day = D + 1;
  o.policy_domain = "a.example";
  std::vector<tlsrpt::Outcome> v{o};
  s.add(v);
  d.plan_day(D + 1, out);
  EXPECT_EQ(t_.lookup_times["a.example"].size(), 2u);
}

TEST_F(RecordGateTest, TemporaryFailureKeepsTheDomainPendingUntilItsRecordIsFound) {
  t_.answers["c.example"] = [](int n) {
    if (n < 2) return RecordAnswer{S::temporary, "TXT lookup SERVFAIL"};
    return RecordAnswer{S::valid, "v=TLSRPTv1; rua=mailto:tlsrpt@c.example"};
  };
  tlsrpt::Store s(db_);
  ScheduleOptions o;
  o.fixed_delay = std::chrono::seconds(0);
  ReportJob job(s, clock_, 1, o);
  const std::int64_t t0 = clock_.t;
  std::ostringstream out;
  std::int64_t next = job.run_due(t_, options_, out);
  EXPECT_NE(
      out.str().find("c.example: report of 2026-11-23 waits: record lookup failed temporarily (TXT lookup "
                     "SERVFAIL), retry at "),
      std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("1 waiting for a record lookup"), std::string::npos) << out.str();
  EXPECT_EQ(next, t0 + 60);
  EXPECT_EQ(s.record_lookup(D, "c.example")->state, S::temporary);
  EXPECT_EQ(s.deliveries(D).size(), 2u);  // a.example's two rua
  for (int guard = 0; guard < 10 && clock_.t < t0 + 86400; ++guard) {
    clock_.t = next;
    std::ostringstream step;
    next = job.run_due(t_, options_, step);
    out << step.str();
  }
  EXPECT_EQ(t_.lookup_times["c.example"], (std::vector<std::int64_t>{t0, t0 + 60, t0 + 180}));
  EXPECT_NE(out.str().find("c.example: report of 2026-11-23 built after a record lookup retry"),
            std::string::npos)
      << out.str();
  EXPECT_EQ(s.record_lookup(D, "c.example")->state, S::valid);
  EXPECT_EQ(t_.sends["mailto:tlsrpt@c.example"], std::vector<std::int64_t>{t0 + 180});
  EXPECT_EQ(t_.lookup_times["b.example"].size(), 1u);  // a permanent answer is not asked again
  EXPECT_FALSE(s.next_record_lookup_time());
}

TEST_F(RecordGateTest, TemporaryFailureGivenUpAfter24HoursAndSaidSo) {
  t_.answers["c.example"] = [](int) { return RecordAnswer{S::temporary, "TXT lookup timed out"}; };
  tlsrpt::Store s(db_);
  ScheduleOptions o;
  o.fixed_delay = std::chrono::seconds(0);
  o.deliver = false;
  ReportJob job(s, clock_, 1, o);
  const std::int64_t t0 = clock_.t;
  std::ostringstream out;
  std::int64_t next = job.run_due(t_, options_, out);
  for (int guard = 0; guard < 100 && next < t0 + 86400; ++guard) {
    clock_.t = next;
    next = job.run_due(t_, options_, out);
  }
  const auto& times = t_.lookup_times["c.example"];
  ASSERT_GE(times.size(), 6u);
  EXPECT_EQ(times[1] - times[0], 60);
  EXPECT_EQ(times[2] - times[1], 120);
  EXPECT_LE(times.back(), t0 + 86400);
  EXPECT_EQ(s.record_lookup(D, "c.example")->state, S::gave_up);
  EXPECT_NE(out.str().find("c.example: no report of 2026-11-23: record lookup failed temporarily since "),
            std::string::npos)
      << out.str();
  EXPECT_FALSE(s.next_record_lookup_time());
  EXPECT_EQ(files(), 1u);  // a.example only (deliver = no writes the files)
  // an operator's `report send` asks again at once
  t_.answers["c.example"] = [](int) { return RecordAnswer{S::valid, "v=TLSRPTv1; rua=mailto:r@c.example"}; };
  Deliverer d(s, t_, clock_, options_);
  std::ostringstream again;
  EXPECT_EQ(d.plan_day(D, again, true, RetryFailed::now).reports, 2u);
  EXPECT_EQ(files(), 2u);
}

}  // namespace
}  // namespace tlsfence::rptd
