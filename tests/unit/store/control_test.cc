// cache.db's control channel: `tlsfence cache flush|refresh` → a running tlsfenced.
#include "store/control.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <vector>

#include "store/cache_db.h"

namespace tlsfence::store {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class ControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("control-test-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    path = (dir / "cache.db").string();
  }
  void TearDown() override { fs::remove_all(dir); }

  std::unique_ptr<ControlPoller> poller(ControlHandler h) {
    return std::make_unique<ControlPoller>(
        path,
        [this](std::string line) {
          std::lock_guard g(m);
          logs.push_back(line);
        },
        std::move(h), ControlPoller::Options{20ms, 2'000ms});
  }
  std::string program() {  // this test binary's process name, as /proc/self/comm has it
    std::ifstream comm("/proc/self/comm");
    std::string name;
    std::getline(comm, name);
    return name;
  }

  fs::path dir;
  std::string path;
  std::mutex m;
  std::vector<std::string> logs;
};

TEST_F(ControlTest, RequestIsCarriedOutByTheRunningDaemon) {
  std::vector<std::string> seen;
  auto p = poller([&](const ControlRequest& r) {
    seen.push_back(r.op + " " + r.domain);
    return r.op == "flush" ? std::string("flushed 1 decision(s)") : "a.test\tOK dane-only\n";
  });
  EXPECT_FALSE(running_daemon(path, program()));
  p->start();
  auto d = running_daemon(path, program());
  ASSERT_TRUE(d);
  EXPECT_EQ(d->pid, ::getpid());
  EXPECT_FALSE(running_daemon(path, "tlsfenced"));  // another program's pid is not a daemon

  std::string result, error;
  ASSERT_EQ(request_control(path, "flush", "a.test", 5s, result, error), ControlOutcome::done) << error;
  EXPECT_EQ(result, "flushed 1 decision(s)");
  ASSERT_EQ(request_control(path, "refresh", "", 5s, result, error), ControlOutcome::done) << error;
  EXPECT_EQ(result, "a.test\tOK dane-only\n");
  ASSERT_EQ(request_control(path, "drop-tables", "", 5s, result, error), ControlOutcome::done) << error;
  EXPECT_EQ(result, "error: unknown operation \"drop-tables\"");
  EXPECT_EQ(seen, (std::vector<std::string>{"flush a.test", "refresh "}));
  EXPECT_EQ(p->handled(), 3u);

  p->stop();
  EXPECT_FALSE(running_daemon(path, program()));  // unregistered on stop
}

TEST_F(ControlTest, HandlerExceptionBecomesAnErrorResult) {
  auto p = poller([](const ControlRequest&) -> std::string { throw std::runtime_error("cache gone"); });
  p->start();
  std::string result, error;
  ASSERT_EQ(request_control(path, "flush", "", 5s, result, error), ControlOutcome::done) << error;
  EXPECT_EQ(result, "error: cache gone");
}

TEST_F(ControlTest, NoDaemonTimesOutAndAStartingDaemonExpiresOldRequests) {
  std::string result, error;
  ASSERT_EQ(request_control(path, "flush", "old.test", 100ms, result, error), ControlOutcome::timed_out);
  int calls = 0;
  auto p = poller([&](const ControlRequest&) {
    ++calls;
    return std::string("done");
  });
  p->start();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(calls, 0);  // the CLI already changed the file; the new daemon loaded that
  ASSERT_EQ(request_control(path, "flush", "new.test", 5s, result, error), ControlOutcome::done);
  EXPECT_EQ(calls, 1);
}

TEST_F(ControlTest, SharesTheFileWithTheCacheWriter) {
  SystemClock clock;
  CacheDb db(
      path, [](std::string) {}, clock);
  auto d = std::make_shared<PolicyDecision>();
  d->domain = "kept.test";
  d->verdict = Verdict::policy;
  d->source = Source::dane;
  d->level = "dane-only";
  d->decided_at = clock.now();
  d->ttl = 600;
  db.put_decision(d, clock.now() + 600s, clock.now() + 600s);
  ASSERT_TRUE(db.sync());
  auto p = poller([](const ControlRequest&) { return std::string("ok"); });
  p->start();
  std::string result, error;
  ASSERT_EQ(request_control(path, "flush", "", 5s, result, error), ControlOutcome::done) << error;
  db.erase_all();  // the writer still works beside the control tables
  ASSERT_TRUE(db.sync());
  EXPECT_TRUE(db.load().decisions.empty());
}

TEST_F(ControlTest, DaemonThatEndsBeforeAnsweringIsNoticed) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  ::waitpid(child, nullptr, 0);  // a pid that no longer exists
  std::string result, error;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(request_control(path, "flush", "", 30s, result, error, child), ControlOutcome::failed);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_NE(error.find("ended before answering"), std::string::npos) << error;
}

TEST_F(ControlTest, UnwritableFileIsAClearFailure) {
  std::string result, error;
  EXPECT_EQ(request_control((dir / "missing-dir" / "cache.db").string(), "flush", "", 1s, result, error),
            ControlOutcome::failed);
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace tlsfence::store
