// Structure-aware fuzz target: one Postfix connection's byte stream of policy delegation
// requests (several attribute blocks) through the policy door's parser and decisions
// (parse/policyd_attrs.h, src/doors/policyd/answer.h: the code the door runs), with a fake
// in-process lookup, fed in chunks like socket reads.
//
// Input: byte 0 chooses the rules (on-dnssec-bogus; forced-TLS rules or none), the rest is
// the stream. The fake lookup answers from the domain: "bogus" in it → DNSSEC-bogus
// temp_fail, "late" → not in time, anything else → a DANE decision.
//
// Checks: one reply per request, in order, each `action=<one line>` and an empty line; the
// action is one the door documents (DUNNO, FILTER <transport>:, DEFER_IF_PERMIT 4.7.5 / REJECT
// 5.7.5 only with on-dnssec-bogus defer / reject and a bogus domain, 451 4.3.5 for protocol
// errors); FILTER only with forced-TLS rules; a framing error ends the stream after its reply;
// the replies do not depend on how the stream was cut.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../chunks.h"
#include "doors/policyd/answer.h"
#include "parse/policyd_attrs.h"
#include "util/log.h"

namespace {

using tlsfence::parse::PolicydParser;
namespace policyd = tlsfence::policyd;

struct Rules {
  tlsfence::policy::ReceptionOptions options;
  tlsfence::policy::ForcedTls forced;
};

Rules rules_from(std::uint8_t b) {
  tlsfence::Config::Reception r;
  static constexpr tlsfence::BogusAction actions[] = {
      tlsfence::BogusAction::continue_, tlsfence::BogusAction::defer, tlsfence::BogusAction::reject,
      tlsfence::BogusAction::defer};
  r.on_dnssec_bogus = actions[b & 3];
  if (b & 4) {
    r.forced_tls_sender = {"@clinic.example"};
    r.forced_tls_recipient_domain = {"partner.test"};
    r.forced_tls_sasl_user = {"alice"};
    r.forced_tls_client_network = {"192.0.2.0/24", "2001:db8::/32"};
  }
  return {tlsfence::policy::ReceptionOptions::from_config(r), tlsfence::policy::ForcedTls::from_config(r)};
}

std::optional<tlsfence::PolicyDecision> fake_lookup(const std::string& key) {
  if (key.find("late") != std::string::npos) return std::nullopt;
  tlsfence::PolicyDecision d;
  d.domain = key;
  if (key.find("bogus") != std::string::npos) {
    d.verdict = tlsfence::Verdict::temp_fail;
    d.result_type = "dnssec-invalid";
  }
  return d;
}

void check_action(std::string_view a, const Rules& rules, bool bogus) {
  using tlsfence::BogusAction;
  if (a == "DUNNO") return;
  if (a.starts_with("FILTER ")) {
    if (rules.forced.empty() || a != "FILTER " + rules.options.forced_tls_transport + ":") std::abort();
    return;
  }
  if (a.starts_with("DEFER_IF_PERMIT 4.7.5 ")) {
    if (rules.options.on_dnssec_bogus != BogusAction::defer || !bogus) std::abort();
    return;
  }
  if (a.starts_with("REJECT 5.7.5 ")) {
    if (rules.options.on_dnssec_bogus != BogusAction::reject || !bogus) std::abort();
    return;
  }
  if (!a.starts_with("451 4.3.5 ")) std::abort();
}

// The door's session loop without the socket: the replies to `stream` cut as `feed` says.
template <typename Cut>
std::vector<std::string> serve(const Rules& rules, Cut cut) {
  std::vector<std::string> replies;
  PolicydParser parser;
  bool closed = false;
  cut([&](std::string_view chunk) {
    parser.feed(chunk);
    while (true) {
      auto r = parser.next();
      if (r.status == PolicydParser::Status::need_more) return true;
      if (r.status == PolicydParser::Status::error) {
        replies.push_back(tlsfence::parse::encode_policyd_reply(
            policyd::protocol_error_action(tlsfence::parse::to_string(r.error))));
        closed = true;
        return false;  // the stream cannot be resynchronised
      }
      const auto plan = policyd::plan_request(r.request, rules.options);
      std::string action;
      bool bogus = false;
      if (!plan.error.empty()) {
        if (!plan.key.empty() || plan.wait) std::abort();
        action = plan.error;
      } else {
        if (plan.wait && plan.key.empty()) std::abort();
        const auto decision = plan.wait ? fake_lookup(plan.key) : std::nullopt;
        bogus = decision && decision->verdict == tlsfence::Verdict::temp_fail;
        action = policyd::decide_action(r.request, decision, rules.options, rules.forced).action;
      }
      check_action(action, rules, bogus);
      replies.push_back(tlsfence::parse::encode_policyd_reply(action));
    }
  });
  if (closed && parser.next().status != PolicydParser::Status::error) std::abort();
  return replies;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    tlsfence::log::set_level(tlsfence::LogLevel::error);
    return true;
  }();
  (void)quiet;
  if (size == 0) return 0;
  // The 8 rule sets (bits 0-2 of byte 0), built once rather than per input.
  static const std::vector<Rules> all_rules = [] {
    std::vector<Rules> v;
    for (std::uint8_t b = 0; b < 8; ++b) v.push_back(rules_from(b));
    return v;
  }();
  const Rules& rules = all_rules[data[0] & 7];
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);

  const auto whole = serve(rules, [&](auto feed) { feed(stream); });
  const auto chunked =
      serve(rules, [&](auto feed) { tlsfence::fuzz::feed_in_chunks(data + 1, size - 1, feed); });
  if (whole != chunked) std::abort();
  for (const auto& reply : whole) {
    if (!reply.starts_with("action=") || !reply.ends_with("\n\n") || reply.find('\n') != reply.size() - 2)
      std::abort();
  }
  return 0;
}
