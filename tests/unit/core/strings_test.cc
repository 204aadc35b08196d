#include <gtest/gtest.h>

#include "tlsfence/dnssec.h"
#include "tlsfence/policy.h"

namespace tlsfence {
namespace {

TEST(CoreStrings, DnssecStatesHaveDistinctNames) {
  EXPECT_EQ(to_string(DnssecState::secure), "secure");
  EXPECT_EQ(to_string(DnssecState::insecure), "insecure");
  EXPECT_EQ(to_string(DnssecState::bogus), "bogus");
  EXPECT_EQ(to_string(DnssecState::indeterminate), "indeterminate");
}

TEST(CoreStrings, SourcesAndVerdicts) {
  EXPECT_EQ(to_string(Source::mta_sts), "sts");
  EXPECT_EQ(to_string(Source::override_rule), "override");
  EXPECT_EQ(to_string(Verdict::temp_fail), "temp-fail");
  EXPECT_EQ(to_string(StsPolicy::Mode::testing), "testing");
}

}  // namespace
}  // namespace tlsfence
