// What of the milter door can be checked without a milter connection: listen address
// conversion to libmilter syntax, and the one-instance-per-process rule. The callbacks are
// exercised black-box by tests/integration/milter (miltertest).
#include "doors/milter/door.h"

#include <gtest/gtest.h>

namespace tlsfence::milter {
namespace {

class NoLookup final : public PolicyLookup {
 public:
  Task<PolicyDecision> decide(std::string next_hop) override {
    PolicyDecision d;
    d.domain = next_hop;
    co_return d;
  }
};

TEST(MilterSpec, ConvertsTlsfenceSyntax) {
  EXPECT_EQ(libmilter_spec("unix:/run/tlsfence/milter.sock"), "unix:/run/tlsfence/milter.sock");
  EXPECT_EQ(libmilter_spec("inet:127.0.0.1:10043"), "inet:10043@127.0.0.1");
  EXPECT_EQ(libmilter_spec("inet:localhost:10043"), "inet:10043@localhost");
  EXPECT_EQ(libmilter_spec("inet:[::1]:10043"), "inet6:10043@[::1]");
}

TEST(MilterSpec, KeepsLibmilterSyntax) {
  EXPECT_EQ(libmilter_spec("local:/run/m.sock"), "local:/run/m.sock");
  EXPECT_EQ(libmilter_spec("inet:10043@127.0.0.1"), "inet:10043@127.0.0.1");
  EXPECT_EQ(libmilter_spec("inet6:10043@::1"), "inet6:10043@::1");
}

TEST(MilterSpec, RejectsGarbage) {
  for (const char* bad : {"", "milter.sock", "tcp:1.2.3.4:5", "inet:", "unix:relative/path", "inet:host"}) {
    SCOPED_TRACE(bad);
    EXPECT_THROW(libmilter_spec(bad), MilterError);
  }
}

TEST(MilterDoorInstance, OnePerProcess) {
  NoLookup lookup;
  asio::io_context io;
  Config::Reception reception;
  {
    MilterDoor first(lookup, io, reception, "unix:/tmp/tlsfence-unit-milter.sock");
    EXPECT_EQ(first.spec(), "unix:/tmp/tlsfence-unit-milter.sock");
    EXPECT_EQ(first.unix_path(), "/tmp/tlsfence-unit-milter.sock");
    EXPECT_THROW(MilterDoor(lookup, io, reception, "unix:/tmp/other.sock"), MilterError);
  }
  MilterDoor again(lookup, io, reception, "inet:127.0.0.1:10043");
  EXPECT_EQ(again.unix_path(), std::nullopt);
  EXPECT_EQ(again.stats().connections, 0u);
}

TEST(MilterDoorInstance, BadRulesAndSpecsThrowAtConstruction) {
  NoLookup lookup;
  asio::io_context io;
  Config::Reception reception;
  reception.forced_tls_sender = {"a@"};
  EXPECT_THROW(MilterDoor(lookup, io, reception, "unix:/tmp/x.sock"), policy::ForcedTlsError);
  reception.forced_tls_sender.clear();
  EXPECT_THROW(MilterDoor(lookup, io, reception, "bogus"), MilterError);
  // A failed construction leaves the slot free.
  MilterDoor ok(lookup, io, reception, "unix:/tmp/x.sock");
}

}  // namespace
}  // namespace tlsfence::milter
