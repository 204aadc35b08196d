// Which hosts the fleet's daily build waits for (rptd/fleet_reports.h lagging_hosts): the
// coordination rule, with the times injected.
#include <gtest/gtest.h>

#include "rptd/fleet_reports.h"

namespace tlsfence::rptd {
namespace {

constexpr std::int64_t kDay = 20'000;  // a UTC day number
constexpr std::int64_t kBegin = kDay * 86400, kEnd = kBegin + 86400;
const std::chrono::seconds kMargin{60};

TEST(FleetWait, HostsThatUploadedPastTheDayEndAreNotWaitedFor) {
  const std::vector<HostUpload> hosts{{"b", kEnd + 61, kEnd + 61, 0}, {"a", kEnd + 3600, kEnd + 3600, 0}};
  EXPECT_TRUE(lagging_hosts(hosts, kDay, kMargin).empty());
}

TEST(FleetWait, AHostBehindTheDayEndIsWaitedForByName) {
  const std::vector<HostUpload> hosts{
      {"mx3", kEnd + 100, kEnd + 100, 0},
      {"mx2", kEnd + 30, kEnd + 30, 0},      // within the margin: late datagrams may still come
      {"mx1", kEnd - 7200, kEnd - 7200, 0},  // went quiet during the day: its outcomes may be missing
      {"mx4", 0, kEnd + 200, 12},            // uploading a backlog (mark not moved yet)
  };
  EXPECT_EQ(lagging_hosts(hosts, kDay, kMargin), (std::vector<std::string>{"mx1", "mx2", "mx4"}));
}

TEST(FleetWait, AHostNotSeenSinceBeforeTheDayIsNotWaitedFor) {
  const std::vector<HostUpload> hosts{{"retired", kBegin - 1, kBegin - 1, 0}};
  EXPECT_TRUE(lagging_hosts(hosts, kDay, kMargin).empty());
}

TEST(FleetWait, OptionsFromTheEnvironmentAreBounded) {
  ::setenv("TLSFENCE_FLEET_LEASE", "3", 1);
  ::setenv("TLSFENCE_FLEET_WAIT", "0", 1);
  const auto o = fleet_options("mx9");
  EXPECT_EQ(o.host, "mx9");
  EXPECT_EQ(o.lease, std::chrono::seconds(3));
  EXPECT_EQ(o.wait_for_hosts, std::chrono::seconds(1));  // at least a second
  EXPECT_GT(o.pid, 0);
  ::unsetenv("TLSFENCE_FLEET_LEASE");
  ::unsetenv("TLSFENCE_FLEET_WAIT");
  EXPECT_EQ(fleet_options("mx9").lease, std::chrono::seconds(600));
}

}  // namespace
}  // namespace tlsfence::rptd
