// Log line format: stable text, then key=value with quoting that keeps one event on one line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "util/log.h"

namespace tlsfence {
namespace {

TEST(Log, Format) {
  EXPECT_EQ(
      log::format("policy decided", {{"domain", "example.org"}, {"verdict", "dane-only"}, {"ttl", 300}}),
      "policy decided domain=example.org verdict=dane-only ttl=300");
  EXPECT_EQ(log::format("x", {{"reason", "two words"}, {"empty", ""}, {"flag", true}}),
            "x reason=\"two words\" empty=\"\" flag=yes");
  EXPECT_EQ(log::format("x", {{"q", "say \"hi\"\\"}}), "x q=\"say \\\"hi\\\"\\\\\"");
  EXPECT_EQ(log::format("x", {{"nl", "a\nb"}}), "x nl=\"a\\x0ab\"");
  EXPECT_EQ(log::format("x", {{"eq", "a=b"}}), "x eq=\"a=b\"");
  EXPECT_EQ(log::format("line\nbreak", {}), "line?break");
  EXPECT_EQ(log::format("n", {{"neg", -5}, {"big", 18446744073709551615ull}}),
            "n neg=-5 big=18446744073709551615");
}

TEST(Log, LevelsAndStderrLines) {
  // Redirect stderr to a file for the duration of the test.
  char path[] = "/tmp/tlsfence-log-test.XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  log::init("unit", LogTarget::stderr_, LogLevel::warning);
  EXPECT_TRUE(log::enabled(LogLevel::error));
  EXPECT_FALSE(log::enabled(LogLevel::info));
  log::info("hidden");
  log::warning("shown", {{"k", "v"}});
  log::set_level(LogLevel::debug);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 100; ++i) log::debug("threaded", {{"thread", t}, {"i", i}});
    });
  }
  for (auto& th : threads) th.join();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(fd);
  log::init("tlsfence", LogTarget::stderr_, LogLevel::info);

  std::ifstream in(path);
  std::string line;
  int shown = 0, threaded = 0;
  while (std::getline(in, line)) {
    EXPECT_EQ(line.find("hidden"), std::string::npos);
    if (line.find("warning: shown k=v") != std::string::npos) ++shown;
    if (line.find("] debug: threaded thread=") != std::string::npos) ++threaded;
    EXPECT_NE(line.find(" unit["), std::string::npos) << line;
  }
  unlink(path);
  EXPECT_EQ(shown, 1);
  EXPECT_EQ(threaded, 400);  // every line whole, none interleaved
}

}  // namespace
}  // namespace tlsfence
