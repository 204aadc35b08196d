// SQLite store: aggregation, positions in the same transaction, reopen, prune, concurrent reader,
// delivery bookkeeping (schema 2), record lookups (schema 3) and the migration of a schema 1 file.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "tlsrpt/store.h"

namespace tlsfence::tlsrpt {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tlsrpt-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "tlsrpt.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string path_;
};

const ReportPolicy sts{TlsrptPolicyType::sts,
                       {"version: STSv1", "mode: enforce", "mx: *.example.com", "max_age: 86400"},
                       "example.com",
                       {"*.example.com"}};

Outcome make(std::int64_t day, const std::string& domain, std::optional<TlsrptResult> failure,
             const std::string& mx = "mx1.example.com", const std::string& helo = "") {
  Outcome o;
  o.day = day;
  o.policy_domain = domain;
  o.policy = sts;
  o.policy.domain = domain;
  o.mx_host = mx;
  o.receiving_ip = "192.0.2.1";
  o.sending_ip = "192.0.2.99";
  o.failure = failure;
  o.helo = helo;
  if (failure) o.failure_reason_code = "untrusted issuer /CN=x";
  return o;
}

TEST_F(StoreTest, RoundTripAggregatesAndGroupsFailures) {
  Store s(path_);
  std::vector<Outcome> batch = {
      make(100, "example.com", std::nullopt),
      make(100, "example.com", std::nullopt),
      make(100, "example.com", TlsrptResult::certificate_not_trusted, "mx1.example.com", "mx1 ESMTP hello"),
      // Different EHLO text: same group (volatile text is not part of the key).
      make(100, "example.com", TlsrptResult::certificate_not_trusted, "mx1.example.com", "mx1 ESMTP other"),
      make(100, "example.com", TlsrptResult::certificate_expired, "mx2.example.com"),
      make(100, "other.example", std::nullopt),
      make(101, "example.com", std::nullopt),
  };
  s.add(batch);
  s.add(std::vector<Outcome>{make(100, "example.com", std::nullopt)});  // a second batch adds up
  auto aggs = s.aggregates(100, "example.com");
  ASSERT_EQ(aggs.size(), 1u);
  EXPECT_EQ(aggs[0].policy, [] {
    auto p = sts;
    return p;
  }());
  EXPECT_EQ(aggs[0].successful_sessions, 3u);
  EXPECT_EQ(aggs[0].failed_sessions, 3u);
  ASSERT_EQ(aggs[0].failures.size(), 2u);
  EXPECT_EQ(aggs[0].failures[0].result, TlsrptResult::certificate_expired);
  EXPECT_EQ(aggs[0].failures[0].failed_session_count, 1u);
  EXPECT_EQ(aggs[0].failures[0].receiving_mx_hostname, "mx2.example.com");
  EXPECT_EQ(aggs[0].failures[1].result, TlsrptResult::certificate_not_trusted);
  EXPECT_EQ(aggs[0].failures[1].failed_session_count, 2u);
  EXPECT_EQ(aggs[0].failures[1].receiving_mx_helo, "mx1 ESMTP hello");
  EXPECT_EQ(aggs[0].failures[1].sending_mta_ip, "192.0.2.99");
  EXPECT_EQ(aggs[0].failures[1].receiving_ip, "192.0.2.1");
  EXPECT_EQ(aggs[0].failures[1].failure_reason_code, "untrusted issuer /CN=x");
  EXPECT_EQ(s.policy_domains(100), (std::vector<std::string>{"example.com", "other.example"}));
  EXPECT_EQ(s.days(), (std::vector<std::int64_t>{100, 101}));
  auto day = s.day_aggregates(100);
  ASSERT_EQ(day.size(), 2u);
  EXPECT_EQ(day[1].policy_domain, "other.example");
  EXPECT_EQ(day[1].policies[0].successful_sessions, 1u);
  auto sum = s.summary();
  ASSERT_EQ(sum.size(), 3u);
  EXPECT_EQ(sum[0].failed_sessions, 3u);
}

TEST_F(StoreTest, DifferentPoliciesAreSeparate) {
  Store s(path_);
  Outcome a = make(5, "example.com", std::nullopt);
  Outcome b = a;
  b.policy = ReportPolicy{TlsrptPolicyType::no_policy_found, {}, "example.com", {}};
  s.add(std::vector<Outcome>{a, b, b});
  auto aggs = s.aggregates(5, "example.com");
  ASSERT_EQ(aggs.size(), 2u);
  std::uint64_t total = aggs[0].successful_sessions + aggs[1].successful_sessions;
  EXPECT_EQ(total, 3u);
}

TEST_F(StoreTest, PositionsCommitWithOutcomesAndSurviveReopen) {
  {
    Store s(path_);
    EXPECT_FALSE(s.position("postfix-log"));
    LogPosition p{"postfix-log", 1234, 4096, "abc"};
    s.add(std::vector<Outcome>{make(7, "example.com", std::nullopt)}, std::vector<LogPosition>{p});
    p.offset = 8192;
    s.add({}, std::vector<LogPosition>{p});
  }
  Store again(path_);
  auto p = again.position("postfix-log");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->inode, 1234u);
  EXPECT_EQ(p->offset, 8192u);
  EXPECT_EQ(p->head, "abc");
  EXPECT_EQ(again.aggregates(7, "example.com").at(0).successful_sessions, 1u);
}

TEST_F(StoreTest, Prune) {
  Store s(path_);
  s.add(std::vector<Outcome>{make(10, "example.com", TlsrptResult::certificate_expired),
                             make(11, "example.com", std::nullopt), make(12, "example.com", std::nullopt)});
  EXPECT_EQ(s.prune(12), 2u);
  EXPECT_EQ(s.days(), (std::vector<std::int64_t>{12}));
  EXPECT_TRUE(s.aggregates(10, "example.com").empty());
  EXPECT_EQ(s.prune(12), 0u);
}

TEST_F(StoreTest, RejectedInputsKeptAndBounded) {
  Store s(path_);
  for (int i = 0; i < 5; ++i)
    s.add_rejected(RejectedInput{i, "datagram", "not JSON", std::string("x\0y", 3)}, 3);
  auto r = s.rejected();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].received_unix, 4);
  EXPECT_EQ(r[0].data, std::string("x\0y", 3));
}

TEST_F(StoreTest, ConcurrentReaderSeesOnlyCommittedTotals) {
  Store writer(path_);
  constexpr int batches = 50, per_batch = 20;
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::atomic<bool> bad{false};
  std::thread reader([&] {
    Store r(path_, Store::Mode::read_only);
    while (!done.load()) {
      auto a = r.aggregates(3, "example.com");
      if (!a.empty() && a[0].successful_sessions % per_batch != 0) bad = true;  // a torn batch
      ++reads;
    }
  });
  for (int b = 0; b < batches; ++b) {
    std::vector<Outcome> batch(per_batch, make(3, "example.com", std::nullopt));
    writer.add(batch);
  }
  done = true;
  reader.join();
  EXPECT_FALSE(bad.load());
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(writer.aggregates(3, "example.com").at(0).successful_sessions,
            static_cast<std::uint64_t>(batches * per_batch));
}

TEST_F(StoreTest, OpenFailuresThrow) {
  EXPECT_THROW(Store((dir_ / "missing" / "x.db").string()), StoreError);
  EXPECT_THROW(Store((dir_ / "absent.db").string(), Store::Mode::read_only), StoreError);
}

TEST_F(StoreTest, DeliveriesPlannedOnceAndEveryAttemptRecorded) {
  const std::int64_t t0 = 1'795'392'000 + 3600;  // 2026-11-23 01:00Z
  {
    Store s(path_);
    const std::vector<PlannedRua> rua{{"mailto:tlsrpt@example.com", "tlsrpt@example.com"},
                                      {"https://r.example.com/tlsrpt", "https://r.example.com/tlsrpt"}};
    EXPECT_EQ(s.plan_deliveries(20414, "example.com", "id1", "a!example.com!x.json.gz", rua, t0), 2u);
    // planning again (a rebuild, a restart) keeps what is there
    EXPECT_EQ(s.plan_deliveries(20414, "example.com", "id1", "a!example.com!x.json.gz", rua, t0 + 50), 0u);
    auto due = s.due_deliveries(t0);
    ASSERT_EQ(due.size(), 2u);
    EXPECT_EQ(s.due_deliveries(t0 - 1).size(), 0u);
    EXPECT_EQ(s.next_delivery_time(), t0);
    const auto mail = due[0].rua.starts_with("mailto:") ? due[0] : due[1];
    const auto web = due[0].rua.starts_with("mailto:") ? due[1] : due[0];
    EXPECT_EQ(mail.created, t0);
    EXPECT_EQ(mail.state, DeliveryState::pending);
    s.record_attempt({mail.id, t0, true, "accepted by /usr/sbin/sendmail", std::nullopt, false});
    s.record_attempt({web.id, t0, false, "HTTP status 503", t0 + 60, false});
    EXPECT_EQ(s.next_delivery_time(), t0 + 60);
    EXPECT_TRUE(s.due_deliveries(t0 + 59).empty());
    ASSERT_EQ(s.due_deliveries(t0 + 60).size(), 1u);
    EXPECT_EQ(s.due_deliveries(t0 + 60)[0].id, web.id);
    s.record_attempt({web.id, t0 + 60, false, "refused to connect", std::nullopt, true});
    EXPECT_FALSE(s.next_delivery_time());
    EXPECT_THROW(s.record_attempt({9999, t0, true, "x", std::nullopt, false}), StoreError);
  }
  Store r(path_, Store::Mode::read_only);  // survives reopen
  auto all = r.deliveries(20414);
  ASSERT_EQ(all.size(), 2u);
  for (const auto& d : all) {
    EXPECT_EQ(d.report_id, "id1");
    EXPECT_EQ(d.file, "a!example.com!x.json.gz");
    auto attempts = r.attempts(d.id);
    if (d.rua.starts_with("mailto:")) {
      EXPECT_EQ(d.state, DeliveryState::delivered);
      EXPECT_EQ(d.attempts, 1u);
      EXPECT_EQ(d.failures, 0u);
      ASSERT_EQ(attempts.size(), 1u);
      EXPECT_TRUE(attempts[0].ok);
      EXPECT_EQ(attempts[0].detail, "accepted by /usr/sbin/sendmail");
    } else {
      EXPECT_EQ(d.target, "https://r.example.com/tlsrpt");
      EXPECT_EQ(d.state, DeliveryState::gave_up);
      EXPECT_EQ(d.attempts, 2u);
      EXPECT_EQ(d.failures, 2u);
      ASSERT_EQ(attempts.size(), 2u);
      EXPECT_EQ(attempts[0].detail, "HTTP status 503");
      EXPECT_EQ(attempts[0].next_retry, t0 + 60);
      EXPECT_FALSE(attempts[0].gave_up);
      EXPECT_EQ(attempts[1].time, t0 + 60);
      EXPECT_FALSE(attempts[1].next_retry);
      EXPECT_TRUE(attempts[1].gave_up);
    }
  }
  EXPECT_EQ(r.deliveries().size(), 2u);
  EXPECT_TRUE(r.deliveries(20415).empty());
}

TEST_F(StoreTest, MetaValues) {
  Store s(path_);
  EXPECT_FALSE(s.meta("last-report-day"));
  s.set_meta("last-report-day", "20414");
  s.set_meta("last-report-day", "20415");
  EXPECT_EQ(s.meta("last-report-day"), "20415");
}

TEST_F(StoreTest, PruneDropsOldDeliveriesToo) {
  Store s(path_);
  std::vector<Outcome> v{make(100, "a.example", std::nullopt), make(101, "a.example", std::nullopt)};
  s.add(v);
  const std::vector<PlannedRua> rua{{"mailto:r@a.example", "r@a.example"}};
  s.plan_deliveries(100, "a.example", "id", "f", rua, 5);
  s.plan_deliveries(101, "a.example", "id", "f", rua, 5);
  s.prune(101);
  ASSERT_EQ(s.deliveries().size(), 1u);
  EXPECT_EQ(s.deliveries()[0].day, 101);
}

// A file written by schema 1 (before delivery bookkeeping): a read-only open shows its data and
// no deliveries; the first read-write open migrates it to schema 3 without losing anything.
TEST_F(StoreTest, SchemaOneFileIsMigrated) {
  {
    Store s(path_);
    std::vector<Outcome> v{make(200, "old.example", std::nullopt),
                           make(200, "old.example", TlsrptResult::certificate_expired)};
    s.add(v, std::vector<LogPosition>{{"postfix-log:/x", 7, 1234, "h"}});
  }
  {  // turn it back into what schema 1 wrote
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "DROP TABLE delivery_attempt; DROP TABLE delivery; "
                           "UPDATE meta SET value='1' WHERE key='schema'",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  {
    Store r(path_, Store::Mode::read_only);
    EXPECT_TRUE(r.deliveries().empty());
    EXPECT_FALSE(r.next_delivery_time());
    ASSERT_EQ(r.summary().size(), 1u);
  }
  Store s(path_);
  EXPECT_EQ(s.meta("schema"), "4");  // schema 3 adds record_lookup, 4 upload_pending
  EXPECT_FALSE(s.record_lookup(200, "old.example"));
  s.put_record_lookup(
      {200, "old.example", RecordState::valid, "v=TLSRPTv1; rua=mailto:r@old.example", 1, 1, 0, 0});
  EXPECT_EQ(s.record_lookup(200, "old.example")->state, RecordState::valid);
  ASSERT_EQ(s.summary().size(), 1u);
  EXPECT_EQ(s.summary()[0].successful_sessions, 1u);
  EXPECT_EQ(s.summary()[0].failed_sessions, 1u);
  EXPECT_EQ(s.position("postfix-log:/x")->offset, 1234u);
  const std::vector<PlannedRua> rua{{"mailto:r@old.example", "r@old.example"}};
  EXPECT_EQ(s.plan_deliveries(200, "old.example", "id", "f", rua, 1), 1u);
}

TEST_F(StoreTest, UnknownSchemaVersionRefused) {
  { Store s(path_); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value='99' WHERE key='schema'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  EXPECT_THROW(Store s(path_), StoreError);
  EXPECT_THROW(Store s(path_, Store::Mode::read_only), StoreError);
}

// Fleet uploads: add() marks each (day, domain) it changes; pending_uploads() reads the marks
// with their absolute aggregates; uploaded() clears only marks still at the generation read.
TEST_F(StoreTest, UploadMarksFollowEveryChangeAndClearOnlyWhatWasUploaded) {
  Store s(path_);
  EXPECT_EQ(s.pending_upload_count(), 0u);
  std::vector<Outcome> v{make(100, "a.example", std::nullopt), make(100, "a.example", std::nullopt),
                         make(100, "b.example", TlsrptResult::certificate_expired),
                         make(101, "a.example", std::nullopt)};
  s.add(v);
  auto p = s.pending_uploads(10);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].day, 100);
  EXPECT_EQ(p[0].policy_domain, "a.example");
  ASSERT_EQ(p[0].policies.size(), 1u);
  EXPECT_EQ(p[0].policies[0].successful_sessions, 2u);
  EXPECT_EQ(p[1].policy_domain, "b.example");
  EXPECT_EQ(p[1].policies[0].failed_sessions, 1u);
  EXPECT_EQ(p[2].day, 101);
  // A change after the read: its mark survives the upload of the older generation.
  s.add(std::vector<Outcome>{make(100, "a.example", std::nullopt)});
  s.uploaded(p);
  auto left = s.pending_uploads(10);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].policy_domain, "a.example");
  EXPECT_EQ(left[0].policies[0].successful_sessions, 3u);  // absolute, not the increment
  s.uploaded(left);
  EXPECT_EQ(s.pending_upload_count(), 0u);
  EXPECT_TRUE(s.pending_uploads(10).empty());
}

TEST_F(StoreTest, UploadMarksSurviveReopenAndAreBoundedByTheLimit) {
  {
    Store s(path_);
    std::vector<Outcome> v;
    for (int i = 0; i < 5; ++i) v.push_back(make(100, "d" + std::to_string(i) + ".example", std::nullopt));
    s.add(v);
  }
  Store s(path_);  // kill -9 after COMMIT: the marks are in the file
  EXPECT_EQ(s.pending_upload_count(), 5u);
  auto first = s.pending_uploads(2);
  ASSERT_EQ(first.size(), 2u);
  s.uploaded(first);
  EXPECT_EQ(s.pending_upload_count(), 3u);
  s.prune(101);
  EXPECT_EQ(s.pending_upload_count(), 0u);
}

// A host joining a fleet: a file of schema 3 is migrated, everything it holds marked.
TEST_F(StoreTest, MigratedFileMarksEverythingItHolds) {
  {
    Store s(path_);
    s.add(std::vector<Outcome>{make(100, "old.example", std::nullopt),
                               make(99, "older.example", std::nullopt)});
  }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "DROP TABLE upload_pending; UPDATE meta SET value='3' WHERE key='schema'",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  {
    Store r(path_, Store::Mode::read_only);  // read-only: no marks, no error
    EXPECT_EQ(r.pending_upload_count(), 0u);
    EXPECT_TRUE(r.pending_uploads(10).empty());
  }
  Store s(path_);
  EXPECT_EQ(s.meta("schema"), "4");
  const auto p = s.pending_uploads(10);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].policy_domain, "older.example");
  EXPECT_EQ(p[1].policies[0].successful_sessions, 1u);
}

}  // namespace
}  // namespace tlsfence::tlsrpt
