#pragma once
// The native milter door's state machine without I/O (native.h serves it over a socket):
// one MTA connection's packets in, the replies out. Standard library only, so tests and the
// fuzz target (tests/fuzz/milter_session) drive the exact code the door runs.
//
// on_packet() takes one well-framed packet (parse/milter_wire.h's PacketReader frames them)
// and appends its reply, if the step has one, to `out`; the protocol and the decisions are
// native.h's. RCPT is the one step that needs the policy service: on_packet() then returns
// Next::lookup with the recipient domain, the caller looks it up (waited for at most the
// rules' wait, or only started: `wait` false) and hands the decision (nullopt: late, or not
// waited for) to on_rcpt_decision(), which appends the reply; an exception from the lookup
// goes to on_rcpt_failure(). No other call may come in between.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "doors/milter/message.h"
#include "policy/forced_tls.h"
#include "policy/reception_rules.h"
#include "tlsfence/policy.h"

namespace tlsfence::milter {

struct SessionRules {
  policy::ReceptionOptions options;
  policy::ForcedTls forced;
};

struct Step {
  enum class Next {
    go_on,   // the next packet
    lookup,  // RCPT: look `key` up, then on_rcpt_decision() / on_rcpt_failure()
    quit,    // QUIT: the connection ends
    close,   // a protocol error the stream cannot recover from (`error` says which)
  };
  Next next = Next::go_on;
  std::string key;    // lookup: the recipient domain
  bool wait = false;  // lookup: wait for the decision (false: start it only, prefetch)
  std::string error;  // close
};

class MilterSession {
 public:
  explicit MilterSession(MilterCounters& counters) : counters_(counters) {}

  Step on_packet(const SessionRules& rules, char command, std::string_view data, std::string& out);
  void on_rcpt_decision(const SessionRules& rules, const std::optional<PolicyDecision>& decision,
                        std::string& out);
  void on_rcpt_failure(std::string_view what, std::string& out);

 private:
  // QUIT_NC: everything of the SMTP session goes. Connect (once per session, after the
  // negotiation or a QUIT_NC): what the connect-stage macros, sent just before, said (or
  // their failure) stays.
  void new_session(bool keep_macros = false);
  // The answer of one step that got past the session checks; throws BadPacket.
  Step decide(const SessionRules& rules, char command, std::string_view data, std::string& answer,
              ReplyKind& kind);
  void internal_error(char command, std::string_view what, bool replies, std::string& answer);
  // RCPT's reply once the decision is known (or not waited for).
  std::string rcpt_answer(const SessionRules& rules, const std::optional<PolicyDecision>& decision,
                          ReplyKind& kind);

  MilterCounters& counters_;
  bool negotiated_ = false;
  std::uint32_t no_reply_ = 0;     // SMFIP_NR_* steps the MTA does not wait for
  bool session_failed_ = false;    // until the next connect or QUIT_NC
  bool deferred_failure_ = false;  // until the next MAIL or abort
  std::string client_address_;
  std::string sasl_user_;  // {auth_authen} of the current MAIL
  std::string queue_id_;   // macro i
  MessageState message_;
  std::string recipient_;                               // the current RCPT (waiting for its lookup)
  bool rcpt_wait_ = false;                              // … and whether its lookup is waited for
  std::chrono::steady_clock::time_point rcpt_started_;  // … and when it came (rcpt_latency)
};

}  // namespace tlsfence::milter
