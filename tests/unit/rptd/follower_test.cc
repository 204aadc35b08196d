// LogFollower against real files and a real Store: one pass, resume after a restart (also with a
// session split across the committed offset), rotation by rename, truncation, partial lines.
#include "rptd/follower.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace tlsfence::rptd {
namespace {

namespace fs = std::filesystem;

std::string qid(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "D%08X", static_cast<unsigned>(i));
  return buf;
}

std::string session(int i, const std::string& domain = "sts.example") {
  const std::string pid = std::to_string(1000 + i % 7);
  return "Nov 22 07:09:30 sender postfix/smtp[" + pid + "]: Verified TLS connection established to mx1." +
         domain +
         "[192.0.2.14]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n"
         "Nov 22 07:09:30 sender postfix/smtp[" +
         pid + "]: " + qid(i) + ": to=<user@" + domain + ">, relay=mx1." + domain +
         "[192.0.2.14]:25, delay=0.06, delays=0.01/0/0.04/0.01, dsn=2.0.0, status=sent (250 2.0.0 Ok)\n";
}

std::string sessions(int from, int to, const std::string& domain = "sts.example") {
  std::string s;
  for (int i = from; i < to; ++i) s += session(i, domain);
  return s;
}

class FollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rptd-follower-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    log_ = (dir_ / "mail.log").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  void append(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::app | std::ios::binary) << text;
  }
  std::uint64_t total(tlsrpt::Store& store) {
    std::uint64_t n = 0;
    for (const auto& s : store.summary()) n += s.successful_sessions + s.failed_sessions;
    return n;
  }
  FollowerOptions small_chunks() {
    FollowerOptions o;
    o.chunk = 97;  // many transactions, lines split across reads
    return o;
  }

  fs::path dir_;
  std::string log_;
};

TEST_F(FollowerTest, OnePassCountsEverySessionOnce) {
  append(log_, sessions(0, 50));
  tlsrpt::Store store((dir_ / "t.db").string());
  Attributor attributor("");
  LogFollower f(log_, LogKind::postfix, store, attributor, small_chunks());
  auto r = f.poll();
  EXPECT_EQ(r.outcomes, 50u);
  EXPECT_EQ(r.lines, 100u);
  EXPECT_EQ(f.poll().outcomes, 0u);
  EXPECT_EQ(total(store), 50u);
}

TEST_F(FollowerTest, PartialLineWaitsForItsNewline) {
  const std::string s = session(1);
  const auto cut = s.size() - 10;
  append(log_, s.substr(0, cut));
  tlsrpt::Store store((dir_ / "t.db").string());
  Attributor attributor("");
  LogFollower f(log_, LogKind::postfix, store, attributor);
  EXPECT_EQ(f.poll().outcomes, 0u);
  append(log_, s.substr(cut));
  EXPECT_EQ(f.poll().outcomes, 1u);
  EXPECT_EQ(total(store), 1u);
}

TEST_F(FollowerTest, RestartResumesWithoutLossOrDouble) {
  // Split inside a session: its TLS line is before the committed offset, its delivery after.
  const std::string all = sessions(0, 40);
  const std::string first_half = sessions(0, 20) + session(20).substr(0, session(20).find('\n') + 1);
  ASSERT_EQ(all.compare(0, first_half.size(), first_half), 0);
  append(log_, first_half);
  {
    tlsrpt::Store store((dir_ / "t.db").string());
    Attributor attributor("");
    LogFollower f(log_, LogKind::postfix, store, attributor, small_chunks());
    EXPECT_EQ(f.poll().outcomes, 20u);
  }  // "restart": state in memory is gone, only the store remains
  append(log_, all.substr(first_half.size()));
  tlsrpt::Store store((dir_ / "t.db").string());
  Attributor attributor("");
  LogFollower f(log_, LogKind::postfix, store, attributor, small_chunks());
  EXPECT_EQ(f.poll().outcomes, 20u);
  EXPECT_EQ(total(store), 40u);
  // And a third start reads nothing new.
  LogFollower g(log_, LogKind::postfix, store, attributor);
  EXPECT_EQ(g.poll().outcomes, 0u);
  EXPECT_EQ(total(store), 40u);
}

TEST_F(FollowerTest, RotationByRenameFinishesOldFileThenReadsNewOne) {
  append(log_, sessions(0, 10));
  tlsrpt::Store store((dir_ / "t.db").string());
  Attributor attributor("");
  LogFollower f(log_, LogKind::postfix, store, attributor);
  EXPECT_EQ(f.poll().outcomes, 10u);
  // More lines land in the old file (the last one without newline), then it is renamed.
  std::string tail = sessions(10, 15);
  tail.pop_back();
  append(log_, tail);
  fs::rename(log_, log_ + ".1");
  append(log_, sessions(15, 30));
  auto r = f.poll();
  EXPECT_TRUE(r.rotated);
  EXPECT_EQ(r.outcomes, 20u);
  EXPECT_EQ(total(store), 30u);
  append(log_, sessions(30, 32));
  EXPECT_EQ(f.poll().outcomes, 2u);
  // A restart now resumes in the new file.
  LogFollower g(log_, LogKind::postfix, store, attributor);
  EXPECT_EQ(g.poll().outcomes, 0u);
  EXPECT_EQ(total(store), 32u);
}

TEST_F(FollowerTest, RotationWhileStoppedFinishesRotatedFileFirst) {
  append(log_, sessions(0, 10));
  tlsrpt::Store store((dir_ / "t.db").string());
  Attributor attributor("");
  {
    LogFollower f(log_, LogKind::postfix, store, attributor);
    EXPECT_EQ(f.poll().outcomes, 10u);
  }
  append(log_, sessions(10, 14));  // written before the rotation, not read yet
  fs::rename(log_, log_ + ".1");
  append(log_, sessions(14, 20));
  LogFollower g(log_, LogKind::postfix, store, attributor);
  auto r = g.poll();
  EXPECT_TRUE(r.rotated);
  EXPECT_EQ(r.outcomes, 10u);
  EXPECT_EQ(total(store), 20u);
  append(log_, sessions(20, 21));
  EXPECT_EQ(g.poll().outcomes, 1u);
  LogFollower h(log_, LogKind::postfix, store, attributor);  // and a restart after that
  EXPECT_EQ(h.poll().outcomes, 0u);
  EXPECT_EQ(total(store), 21u);
}

TEST_F(FollowerTest, TruncationRestartsAtZero) {
  append(log_, sessions(0, 10));
  tlsrpt::Store store((dir_ / "t.db").string());
  Attributor attributor("");
  LogFollower f(log_, LogKind::postfix, store, attributor);
  EXPECT_EQ(f.poll().outcomes, 10u);
  fs::resize_file(log_, 0);
  append(log_, sessions(100, 103, "other.example"));
  auto r = f.poll();
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.outcomes, 3u);
  EXPECT_EQ(total(store), 13u);
}

TEST_F(FollowerTest, ReplacedFileWhileStoppedIsReadFromStart) {
  append(log_, sessions(0, 10));
  tlsrpt::Store store((dir_ / "t.db").string());
  Attributor attributor("");
  {
    LogFollower f(log_, LogKind::postfix, store, attributor);
    EXPECT_EQ(f.poll().outcomes, 10u);
  }
  fs::remove(log_);
  append(log_, sessions(50, 70, "other.example"));  // longer than the old offset, other head
  LogFollower g(log_, LogKind::postfix, store, attributor);
  EXPECT_EQ(g.poll().outcomes, 20u);
  EXPECT_EQ(total(store), 30u);
}

TEST_F(FollowerTest, GarbageLinesAreSkipped) {
  append(log_, "garbage\n\n\xff\xfe not a log line\n" + sessions(0, 3) + std::string(100000, 'x') + "\n");
  tlsrpt::Store store((dir_ / "t.db").string());
  Attributor attributor("");
  LogFollower f(log_, LogKind::postfix, store, attributor);
  EXPECT_EQ(f.poll().outcomes, 3u);
  EXPECT_EQ(total(store), 3u);
}

TEST_F(FollowerTest, SendmailLogWithAttribution) {
  // verify=FAIL under no policy is a success once attributed (opportunistic TLS).
  std::string text;
  for (int i = 0; i < 3; ++i) {
    const std::string pid = std::to_string(900 + i), id = "2AM6lo1a00" + pid;
    text += "Nov 22 06:47:50 sender sm-mta[" + pid + "]: " + id +
            ": STARTTLS=client, relay=mx1.example.com., version=TLSv1.3, verify=FAIL, "
            "cipher=TLS_AES_256_GCM_SHA384, bits=256/256\n";
    text += "Nov 22 06:47:50 sender sm-mta[" + pid + "]: " + id +
            ": to=<a@example.com>, delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=1, "
            "relay=mx1.example.com. [192.0.2.1], dsn=2.0.0, stat=Sent (OK)\n";
  }
  append(log_, text);
  tlsrpt::Store store((dir_ / "t.db").string());
  Attributor attributor("");
  LogFollower f(log_, LogKind::sendmail, store, attributor);
  EXPECT_EQ(f.source(), "sendmail-log:" + log_);
  EXPECT_EQ(f.poll().outcomes, 3u);
  const auto s = store.summary();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].policy_domain, "example.com");
  EXPECT_EQ(s[0].successful_sessions, 3u);
  EXPECT_EQ(s[0].failed_sessions, 0u);
}

TEST(HeadFingerprint, Table) {
  EXPECT_EQ(head_fingerprint(""), "");
  EXPECT_EQ(head_fingerprint("abc").substr(0, 2), "3:");
  EXPECT_EQ(head_fingerprint(std::string(1000, 'a')).substr(0, 4), "256:");
  EXPECT_EQ(head_fingerprint(std::string(1000, 'a')), head_fingerprint(std::string(256, 'a')));
  EXPECT_NE(head_fingerprint("abc"), head_fingerprint("abd"));
}

}  // namespace
}  // namespace tlsfence::rptd
