// The native milter door's state machine: see session.h, and native.h for the protocol.
#include "doors/milter/session.h"

#include <libmilter/mfapi.h>  // SMFIF_* (mfdef.h: commands, replies, SMFIP_*)
#include <libmilter/mfdef.h>

#include <algorithm>
#include <cctype>
#include <exception>

#include "parse/milter_wire.h"
#include "util/log.h"

namespace tlsfence::milter {

namespace wire = parse::milter;

namespace {

constexpr std::uint32_t kSteps = SMFIP_NOHELO | SMFIP_NOBODY | SMFIP_NOEOH | SMFIP_NOUNKNOWN;
constexpr std::uint32_t kAddHeaders = SMFIF_ADDHDRS;

// A known command whose data does not have its layout: the framing is intact, the
// connection goes on, the SMTP session is tempfailed.
struct BadPacket {
  std::string what;
};

std::string reply(char r) {
  return wire::encode_packet(r);
}

Step close(std::string why) {
  Step s;
  s.next = Step::Next::close;
  s.error = std::move(why);
  return s;
}

}  // namespace

void MilterSession::new_session(bool keep_macros) {
  if (!keep_macros) {
    session_failed_ = false;
    client_address_.clear();
    sasl_user_.clear();
    queue_id_.clear();
  }
  deferred_failure_ = false;
  message_.reset();
}

Step MilterSession::on_packet(const SessionRules& rules, char command, std::string_view data,
                              std::string& out) {
  if (!negotiated_) {
    if (command != SMFIC_OPTNEG) return close("the first packet is not an option negotiation");
    const auto n = wire::decode_negotiation(data);
    if (!n || n->version < 2) return close("malformed option negotiation");
    const bool headers = !rules.forced.empty();
    const std::uint32_t off = kSteps | (headers ? 0 : SMFIP_NOHDRS);
    no_reply_ = n->protocol & (SMFIP_NR_CONN | SMFIP_NR_MAIL | (headers ? SMFIP_NR_HDR : 0));
    if ((n->actions & kAddHeaders) == 0) {
      log::warning("milter: the MTA does not allow adding headers; forced TLS cannot be marked",
                   {{"door", "milter"}});
    }
    negotiated_ = true;
    out += wire::encode_negotiation({std::min<std::uint32_t>(n->version, SMFI_PROT_VERSION),
                                     n->actions & kAddHeaders, (n->protocol & off) | no_reply_});
    return {};
  }

  std::uint32_t step = 0;  // this step's SMFIP_NR_* flag
  switch (command) {
    case SMFIC_QUIT: return Step{Step::Next::quit};
    case SMFIC_QUIT_NC: new_session(); return {};
    case SMFIC_ABORT:
      message_.reset();
      deferred_failure_ = false;
      return {};
    case SMFIC_OPTNEG: return close("a second option negotiation");
    case SMFIC_CONNECT:
      new_session(/*keep_macros=*/true);
      step = SMFIP_NR_CONN;
      break;
    case SMFIC_MAIL: step = SMFIP_NR_MAIL; break;
    case SMFIC_HEADER: step = SMFIP_NR_HDR; break;
    case SMFIC_MACRO:
    case SMFIC_HELO:
    case SMFIC_RCPT:
    case SMFIC_DATA:
    case SMFIC_EOH:
    case SMFIC_BODY:
    case SMFIC_BODYEOB:
    case SMFIC_UNKNOWN: break;
    default:  // whether it expects a reply is unknown: the stream cannot go on
      return close(std::string("unknown command ") + (std::isprint(static_cast<unsigned char>(command))
                                                          ? std::string(1, command)
                                                          : std::to_string(command)));
  }
  const bool replies = command != SMFIC_MACRO && (no_reply_ & step) == 0;
  // A failure earlier in this SMTP session (connect, macros, a malformed packet) or in a
  // no-reply step of this message: every step that replies tempfails (until the next
  // session, or the end of the message), so nothing leaves half-decided.
  if (replies && (session_failed_ || (deferred_failure_ && command != SMFIC_MAIL))) {
    counters_.replies.inc(static_cast<std::size_t>(ReplyKind::tempfail));
    out += wire::encode_reply_code("451", "4.3.5", "tlsfence: an earlier milter step failed");
    return {};
  }

  std::string answer = reply(SMFIR_CONTINUE);
  ReplyKind kind = ReplyKind::continue_;
  try {
    Step s = decide(rules, command, data, answer, kind);
    if (s.next == Step::Next::lookup) return s;  // on_rcpt_decision() replies
  } catch (const BadPacket& e) {
    ++counters_.protocol_errors;
    log::warning("milter packet malformed, the SMTP session is tempfailed",
                 {{"door", "milter"}, {"command", std::string(1, command)}, {"error", e.what}});
    session_failed_ = true;
    answer = wire::encode_reply_code("451", "4.3.5", "tlsfence: malformed milter packet");
    kind = ReplyKind::tempfail;
  } catch (const std::exception& e) {
    internal_error(command, e.what(), replies, answer);
    kind = ReplyKind::tempfail;
  }
  if (replies) {
    counters_.replies.inc(static_cast<std::size_t>(kind));
    out += answer;
  }
  return {};
}

void MilterSession::internal_error(char command, std::string_view what, bool replies, std::string& answer) {
  ++counters_.internal_errors;
  log::error("milter internal error",
             {{"door", "milter"}, {"command", std::string(1, command)}, {"error", what}});
  answer = wire::encode_reply_code("451", "4.3.5", "tlsfence: internal error");
  // What connect and macros carry is needed by the whole session's decisions.
  if (command == SMFIC_CONNECT || command == SMFIC_MACRO) {
    session_failed_ = true;
  } else if (!replies) {
    deferred_failure_ = true;
  }
}

Step MilterSession::decide(const SessionRules& rules, char command, std::string_view data,
                           std::string& answer, ReplyKind& kind) {
  switch (command) {
    case SMFIC_MACRO: {
      const auto m = wire::decode_macros(data);
      if (!m) throw BadPacket{"malformed macro packet"};
      if (m->stage == SMFIC_MAIL) sasl_user_.clear();
      for (const auto& [name, value] : m->values) {
        if (name == "{auth_authen}") {
          sasl_user_ = value;
        } else if (name == "i") {
          queue_id_ = value;
        } else if (name == "{client_addr}") {
          client_address_ = value;
        }
      }
      break;
    }
    case SMFIC_CONNECT: {
      const auto info = wire::decode_connect(data);
      if (!info) throw BadPacket{"malformed connect packet"};
      // (Otherwise the address stays what this stage's {client_addr} macro said, if any.)
      if (info->family == SMFIA_INET || info->family == SMFIA_INET6) client_address_ = info->address;
      break;
    }
    case SMFIC_MAIL: {
      const auto args = wire::decode_strings(data);
      if (!args) throw BadPacket{"malformed MAIL packet"};
      deferred_failure_ = false;
      message_.on_mail(rules.forced, args->front(), sasl_user_, client_address_, counters_);
      break;
    }
    case SMFIC_RCPT: {
      const auto args = wire::decode_strings(data);
      if (!args) throw BadPacket{"malformed RCPT packet"};
      ++counters_.recipients;
      rcpt_started_ = std::chrono::steady_clock::now();
      recipient_ = std::string(policy::strip_angle_brackets(args->front()));
      Step s;
      s.key = policy::recipient_lookup_key(recipient_);
      if (!s.key.empty()) {
        s.next = Step::Next::lookup;
        s.wait = rules.options.on_dnssec_bogus != BogusAction::continue_;
        // With continue the decision cannot change the reply: the lookup is not waited for.
        if (!s.wait) ++counters_.prefetched;
        rcpt_wait_ = s.wait;
        return s;
      }
      answer = rcpt_answer(rules, std::nullopt, kind);
      counters_.rcpt_latency.observe(std::chrono::steady_clock::now() - rcpt_started_);
      break;
    }
    case SMFIC_DATA:
      // A message no rule forces needs nothing more from this door: accepting it here
      // spares the MTA sending headers and end of message.
      if (message_.forced_by == policy::ForcedBy::none) {
        message_.reset();
        answer = reply(SMFIR_ACCEPT);
        kind = ReplyKind::accept;
      }
      break;
    case SMFIC_HEADER: {
      const auto h = wire::decode_header(data);
      if (!h) throw BadPacket{"malformed header packet"};
      message_.on_header(h->name, h->value);
      break;
    }
    case SMFIC_BODYEOB:
      if (message_.wants_header(queue_id_, counters_)) {
        answer = wire::encode_add_header(kForcedHeaderName, kForcedHeaderValue) + answer;
        message_.forced_marked(queue_id_, counters_);
      }
      message_.reset();
      break;
    default:  // HELO, EOH, body, unknown SMTP command: nothing to decide
      break;
  }
  return {};
}

std::string MilterSession::rcpt_answer(const SessionRules& rules,
                                       const std::optional<PolicyDecision>& decision, ReplyKind& kind) {
  if (auto refusal =
          message_.on_rcpt(rules.forced, rules.options.on_dnssec_bogus, recipient_, decision, counters_)) {
    kind = refusal->permanent ? ReplyKind::reject : ReplyKind::tempfail;
    return refusal->permanent ? wire::encode_reply_code("550", "5.7.5", refusal->text)
                              : wire::encode_reply_code("451", "4.7.5", refusal->text);
  }
  return reply(SMFIR_CONTINUE);
}

void MilterSession::on_rcpt_decision(const SessionRules& rules, const std::optional<PolicyDecision>& decision,
                                     std::string& out) {
  if (rcpt_wait_ && !decision) ++counters_.lookups_late;
  std::string answer;
  ReplyKind kind = ReplyKind::continue_;
  try {
    answer = rcpt_answer(rules, decision, kind);
    counters_.rcpt_latency.observe(std::chrono::steady_clock::now() - rcpt_started_);
  } catch (const std::exception& e) {
    internal_error(SMFIC_RCPT, e.what(), /*replies=*/true, answer);
    kind = ReplyKind::tempfail;
  }
  counters_.replies.inc(static_cast<std::size_t>(kind));
  out += answer;
}

void MilterSession::on_rcpt_failure(std::string_view what, std::string& out) {
  std::string answer;
  internal_error(SMFIC_RCPT, what, /*replies=*/true, answer);
  counters_.replies.inc(static_cast<std::size_t>(ReplyKind::tempfail));
  out += answer;
}

}  // namespace tlsfence::milter
