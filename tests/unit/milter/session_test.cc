// The native milter door's state machine without a socket (doors/milter/session.h): the RCPT
// lookup hand-off, the refusal and forced-TLS replies, and what closes the connection. The
// door itself, over a real socket, is native_door_test.cc's.
#include <gtest/gtest.h>
#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include <string>

#include "doors/milter/session.h"
#include "parse/milter_wire.h"

namespace {

namespace wire = tlsfence::parse::milter;
using tlsfence::milter::MilterSession;
using tlsfence::milter::SessionRules;
using tlsfence::milter::Step;

SessionRules rules(tlsfence::BogusAction on_bogus, bool forced) {
  tlsfence::Config::Reception r;
  r.on_dnssec_bogus = on_bogus;
  if (forced) r.forced_tls_recipient_domain = {"partner.test"};
  return {tlsfence::policy::ReceptionOptions::from_config(r), tlsfence::policy::ForcedTls::from_config(r)};
}

// The commands of the reply packets in `out`.
std::string commands(const std::string& out) {
  wire::PacketReader r;
  r.feed(out);
  std::string c;
  for (auto p = r.next(); p.status == wire::PacketReader::Status::packet; p = r.next()) c += p.packet.command;
  return c;
}

struct SessionTest : ::testing::Test {
  tlsfence::milter::MilterCounters counters;
  MilterSession session{counters};
  std::string out;

  void negotiate(const SessionRules& r) {
    const std::string n = wire::encode_negotiation({6, SMFIF_ADDHDRS, 0});
    ASSERT_EQ(session.on_packet(r, SMFIC_OPTNEG, std::string_view(n).substr(5), out).next, Step::Next::go_on);
    ASSERT_EQ(commands(out), "O");
    out.clear();
  }
};

TEST_F(SessionTest, RcptHandsTheLookupToTheCallerThenRefusesABogusDomain) {
  const auto r = rules(tlsfence::BogusAction::defer, false);
  negotiate(r);
  session.on_packet(r, SMFIC_MAIL, std::string("<a@example.org>\0", 16), out);
  out.clear();
  const Step s = session.on_packet(r, SMFIC_RCPT, std::string("<b@bogus.test>\0", 15), out);
  ASSERT_EQ(s.next, Step::Next::lookup);
  EXPECT_EQ(s.key, "bogus.test");
  EXPECT_TRUE(s.wait);
  EXPECT_TRUE(out.empty());  // the reply waits for the decision
  tlsfence::PolicyDecision d;
  d.domain = "bogus.test";
  d.verdict = tlsfence::Verdict::temp_fail;
  d.result_type = "dnssec-invalid";
  session.on_rcpt_decision(r, d, out);
  EXPECT_EQ(commands(out), "y");
  EXPECT_NE(out.find("451 4.7.5"), std::string::npos);
  EXPECT_EQ(counters.refused.load(), 1u);
}

TEST_F(SessionTest, ContinueOnlyPrefetchesAndALateDecisionIsCounted) {
  const auto cont = rules(tlsfence::BogusAction::continue_, false);
  negotiate(cont);
  const Step s = session.on_packet(cont, SMFIC_RCPT, std::string("<b@example.net>\0", 16), out);
  ASSERT_EQ(s.next, Step::Next::lookup);
  EXPECT_FALSE(s.wait);
  session.on_rcpt_decision(cont, std::nullopt, out);
  EXPECT_EQ(commands(out), "c");
  EXPECT_EQ(counters.prefetched.load(), 1u);
  EXPECT_EQ(counters.lookups_late.load(), 0u);

  out.clear();
  const auto defer = rules(tlsfence::BogusAction::defer, false);
  ASSERT_TRUE(session.on_packet(defer, SMFIC_RCPT, std::string("<b@example.net>\0", 16), out).wait);
  session.on_rcpt_decision(defer, std::nullopt, out);
  EXPECT_EQ(commands(out), "c");
  EXPECT_EQ(counters.lookups_late.load(), 1u);
}

TEST_F(SessionTest, ALookupFailureTempfailsTheRecipient) {
  const auto r = rules(tlsfence::BogusAction::reject, false);
  negotiate(r);
  ASSERT_EQ(session.on_packet(r, SMFIC_RCPT, std::string("<b@example.net>\0", 16), out).next,
            Step::Next::lookup);
  session.on_rcpt_failure("resolver gone", out);
  EXPECT_NE(out.find("451 4.3.5"), std::string::npos);
  EXPECT_EQ(counters.internal_errors.load(), 1u);
}

TEST_F(SessionTest, ForcedRecipientDomainGetsTheHeaderAtEndOfMessage) {
  const auto r = rules(tlsfence::BogusAction::defer, true);
  negotiate(r);
  session.on_packet(r, SMFIC_MAIL, std::string("<a@example.org>\0", 16), out);
  ASSERT_EQ(session.on_packet(r, SMFIC_RCPT, std::string("<b@partner.test>\0", 17), out).next,
            Step::Next::lookup);
  session.on_rcpt_decision(r, tlsfence::PolicyDecision{}, out);
  session.on_packet(r, SMFIC_DATA, "", out);
  out.clear();
  session.on_packet(r, SMFIC_BODYEOB, "", out);
  EXPECT_EQ(commands(out), "hc");
  EXPECT_EQ(counters.forced.load(), 1u);
}

TEST_F(SessionTest, UnresynchronisableInputCloses) {
  const auto r = rules(tlsfence::BogusAction::defer, false);
  EXPECT_EQ(session.on_packet(r, SMFIC_MAIL, "", out).next, Step::Next::close);  // no negotiation
  negotiate(r);
  EXPECT_EQ(session.on_packet(r, 'Z', "", out).next, Step::Next::close);
  EXPECT_EQ(session.on_packet(r, SMFIC_OPTNEG, "", out).next, Step::Next::close);
  EXPECT_EQ(session.on_packet(r, SMFIC_QUIT, "", out).next, Step::Next::quit);
  EXPECT_TRUE(out.empty());
}

}  // namespace
