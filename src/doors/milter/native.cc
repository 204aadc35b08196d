// The milter door on the daemon's loop: see native.h for the protocol and the decisions.
// g++ 12 misreads Boost 1.74 awaitable frames' sized operator delete (false positive).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include "doors/milter/native.h"

#include <libmilter/mfapi.h>  // SMFIF_* (mfdef.h: commands, replies, SMFIP_*)
#include <libmilter/mfdef.h>

#include <algorithm>
#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <exception>

#include "parse/milter_wire.h"
#include "util/idle_timer.h"
#include "util/log.h"

namespace tlsfence::milter {

namespace wire = parse::milter;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr std::uint32_t kSteps = SMFIP_NOHELO | SMFIP_NOBODY | SMFIP_NOEOH | SMFIP_NOUNKNOWN;
constexpr std::uint32_t kAddHeaders = SMFIF_ADDHDRS;

// The connection cannot go on (no or a second negotiation, an unknown command).
struct ProtocolError {
  std::string what;
};
// A known command whose data does not have its layout: the framing is intact, the
// connection goes on, the SMTP session is tempfailed.
struct BadPacket {
  std::string what;
};

std::string reply(char r) {
  return wire::encode_packet(r);
}

}  // namespace

struct NativeMilterDoor::Connection {
  Connection(asio::generic::stream_protocol::socket s, std::shared_ptr<const Rules> r)
      : socket(std::move(s)), timer(socket.get_executor()), rules(std::move(r)) {}
  asio::generic::stream_protocol::socket socket;
  asio::steady_timer timer;
  SteadyClock::time_point deadline = SteadyClock::time_point::max();
  bool finished = false;
  bool timed_out = false;

  std::shared_ptr<const Rules> rules;  // the rules of the current packet
  bool negotiated = false;
  std::uint32_t no_reply = 0;     // SMFIP_NR_* steps the MTA does not wait for
  bool session_failed = false;    // until the next connect or QUIT_NC
  bool deferred_failure = false;  // until the next MAIL or abort
  std::string client_address;
  std::string sasl_user;  // {auth_authen} of the current MAIL
  std::string queue_id;   // macro i
  MessageState message;

  // QUIT_NC: everything of the SMTP session goes. Connect (once per session, after the
  // negotiation or a QUIT_NC): what the connect-stage macros, sent just before, said (or
  // their failure) stays.
  void new_session(bool keep_macros = false) {
    if (!keep_macros) {
      session_failed = false;
      client_address.clear();
      sasl_user.clear();
      queue_id.clear();
    }
    deferred_failure = false;
    message.reset();
  }
};

NativeMilterDoor::NativeMilterDoor(PolicyLookup& lookup, const Config::Reception& reception)
    : NativeMilterDoor(lookup, policy::ReceptionOptions::from_config(reception),
                       policy::ForcedTls::from_config(reception)) {}

NativeMilterDoor::NativeMilterDoor(PolicyLookup& lookup, policy::ReceptionOptions options,
                                   policy::ForcedTls forced)
    : lookup_(lookup), rules_(std::make_shared<const Rules>(Rules{std::move(options), std::move(forced)})) {}

void NativeMilterDoor::set_reception(policy::ReceptionOptions options, policy::ForcedTls forced) {
  rules_ = std::make_shared<const Rules>(Rules{std::move(options), std::move(forced)});
}

// One packet. Appends the reply (if the step has one) to `out`; returns false when the
// connection is to end (QUIT). Throws ProtocolError when the connection cannot go on.
Task<bool> NativeMilterDoor::handle(Connection& c, char command, std::string_view data, std::string& out) {
  if (!c.negotiated) {
    if (command != SMFIC_OPTNEG) throw ProtocolError{"the first packet is not an option negotiation"};
    const auto n = wire::decode_negotiation(data);
    if (!n || n->version < 2) throw ProtocolError{"malformed option negotiation"};
    const bool headers = !c.rules->forced.empty();
    const std::uint32_t off = kSteps | (headers ? 0 : SMFIP_NOHDRS);
    c.no_reply = n->protocol & (SMFIP_NR_CONN | SMFIP_NR_MAIL | (headers ? SMFIP_NR_HDR : 0));
    if ((n->actions & kAddHeaders) == 0) {
      log::warning("milter: the MTA does not allow adding headers; forced TLS cannot be marked",
                   {{"door", "milter"}});
    }
    c.negotiated = true;
    out += wire::encode_negotiation({std::min<std::uint32_t>(n->version, SMFI_PROT_VERSION),
                                     n->actions & kAddHeaders, (n->protocol & off) | c.no_reply});
    co_return true;
  }

  std::uint32_t step = 0;  // this step's SMFIP_NR_* flag
  switch (command) {
    case SMFIC_QUIT: co_return false;
    case SMFIC_QUIT_NC: c.new_session(); co_return true;
    case SMFIC_ABORT:
      c.message.reset();
      c.deferred_failure = false;
      co_return true;
    case SMFIC_OPTNEG: throw ProtocolError{"a second option negotiation"};
    case SMFIC_CONNECT:
      c.new_session(/*keep_macros=*/true);
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
      throw ProtocolError{std::string("unknown command ") + (std::isprint(static_cast<unsigned char>(command))
                                                                 ? std::string(1, command)
                                                                 : std::to_string(command))};
  }
  const bool replies = command != SMFIC_MACRO && (c.no_reply & step) == 0;
  // A failure earlier in this SMTP session (connect, macros, a malformed packet) or in a
  // no-reply step of this message: every step that replies tempfails (until the next
  // session, or the end of the message), so nothing leaves half-decided.
  if (replies && (c.session_failed || (c.deferred_failure && command != SMFIC_MAIL))) {
    counters_.replies.inc(static_cast<std::size_t>(ReplyKind::tempfail));
    out += wire::encode_reply_code("451", "4.3.5", "tlsfence: an earlier milter step failed");
    co_return true;
  }

  std::string answer = reply(SMFIR_CONTINUE);
  ReplyKind kind = ReplyKind::continue_;
  const auto started = SteadyClock::now();
  try {
    switch (command) {
      case SMFIC_MACRO: {
        const auto m = wire::decode_macros(data);
        if (!m) throw BadPacket{"malformed macro packet"};
        if (m->stage == SMFIC_MAIL) c.sasl_user.clear();
        for (const auto& [name, value] : m->values) {
          if (name == "{auth_authen}") {
            c.sasl_user = value;
          } else if (name == "i") {
            c.queue_id = value;
          } else if (name == "{client_addr}") {
            c.client_address = value;
          }
        }
        break;
      }
      case SMFIC_CONNECT: {
        const auto info = wire::decode_connect(data);
        if (!info) throw BadPacket{"malformed connect packet"};
        // (Otherwise the address stays what this stage's {client_addr} macro said, if any.)
        if (info->family == SMFIA_INET || info->family == SMFIA_INET6) c.client_address = info->address;
        break;
      }
      case SMFIC_MAIL: {
        const auto args = wire::decode_strings(data);
        if (!args) throw BadPacket{"malformed MAIL packet"};
        c.deferred_failure = false;
        c.message.on_mail(c.rules->forced, args->front(), c.sasl_user, c.client_address, counters_);
        break;
      }
      case SMFIC_RCPT: {
        const auto args = wire::decode_strings(data);
        if (!args) throw BadPacket{"malformed RCPT packet"};
        ++counters_.recipients;
        const std::string recipient(policy::strip_angle_brackets(args->front()));
        const std::string key = policy::recipient_lookup_key(recipient);
        const auto rules = c.rules;  // the lookup may outlast a reload
        std::optional<PolicyDecision> decision;
        if (!key.empty() && rules->options.on_dnssec_bogus == BogusAction::continue_) {
          ++counters_.prefetched;  // the decision cannot change the reply: do not wait for it
          policy::prefetch(lookup_, key, co_await asio::this_coro::executor);
        } else if (!key.empty()) {
          decision = co_await policy::decide_within(lookup_, key, rules->options.wait);
          if (!decision) ++counters_.lookups_late;
        }
        if (auto refusal = c.message.on_rcpt(rules->forced, rules->options.on_dnssec_bogus, recipient,
                                             decision, counters_)) {
          answer = refusal->permanent ? wire::encode_reply_code("550", "5.7.5", refusal->text)
                                      : wire::encode_reply_code("451", "4.7.5", refusal->text);
          kind = refusal->permanent ? ReplyKind::reject : ReplyKind::tempfail;
        }
        counters_.rcpt_latency.observe(SteadyClock::now() - started);
        break;
      }
      case SMFIC_DATA:
        // A message no rule forces needs nothing more from this door: accepting it here
        // spares the MTA sending headers and end of message.
        if (c.message.forced_by == policy::ForcedBy::none) {
          c.message.reset();
          answer = reply(SMFIR_ACCEPT);
          kind = ReplyKind::accept;
        }
        break;
      case SMFIC_HEADER: {
        const auto h = wire::decode_header(data);
        if (!h) throw BadPacket{"malformed header packet"};
        c.message.on_header(h->name, h->value);
        break;
      }
      case SMFIC_BODYEOB:
        if (c.message.wants_header(c.queue_id, counters_)) {
          answer = wire::encode_add_header(kForcedHeaderName, kForcedHeaderValue) + answer;
          c.message.forced_marked(c.queue_id, counters_);
        }
        c.message.reset();
        break;
      default:  // HELO, EOH, body, unknown SMTP command: nothing to decide
        break;
    }
  } catch (const BadPacket& e) {
    ++counters_.protocol_errors;
    log::warning("milter packet malformed, the SMTP session is tempfailed",
                 {{"door", "milter"}, {"command", std::string(1, command)}, {"error", e.what}});
    c.session_failed = true;
    answer = wire::encode_reply_code("451", "4.3.5", "tlsfence: malformed milter packet");
    kind = ReplyKind::tempfail;
  } catch (const std::exception& e) {
    ++counters_.internal_errors;
    log::error("milter internal error",
               {{"door", "milter"}, {"command", std::string(1, command)}, {"error", e.what()}});
    answer = wire::encode_reply_code("451", "4.3.5", "tlsfence: internal error");
    kind = ReplyKind::tempfail;
    // What connect and macros carry is needed by the whole session's decisions.
    if (command == SMFIC_CONNECT || command == SMFIC_MACRO) {
      c.session_failed = true;
    } else if (!replies) {
      c.deferred_failure = true;
    }
  }
  if (replies) {
    counters_.replies.inc(static_cast<std::size_t>(kind));
    out += answer;
  }
  co_return true;
}

Task<void> NativeMilterDoor::session(std::shared_ptr<Connection> c) {
  wire::PacketReader reader;
  std::array<char, 16 * 1024> buffer;
  std::string out;
  while (true) {
    c->deadline = SteadyClock::now() + idle_timeout_;
    boost::system::error_code ec;
    const std::size_t n = co_await c->socket.async_read_some(asio::buffer(buffer),
                                                             asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (c->timed_out) log::info("milter connection idle, closed", {{"door", "milter"}});
      co_return;
    }
    reader.feed(std::string_view(buffer.data(), n));
    bool more = true;
    while (more) {
      auto r = reader.next();
      if (r.status == wire::PacketReader::Status::need_more) break;
      if (r.status == wire::PacketReader::Status::error) {
        ++counters_.protocol_errors;
        log::warning("milter protocol error, connection closed",
                     {{"door", "milter"}, {"error", wire::to_string(r.error)}});
        co_return;
      }
      c->rules = rules_;
      try {
        more = co_await handle(*c, r.packet.command, r.packet.data, out);
      } catch (const ProtocolError& e) {
        ++counters_.protocol_errors;
        log::warning("milter protocol error, connection closed", {{"door", "milter"}, {"error", e.what}});
        co_return;
      }
    }
    // Every reply of this read in one write (the MTA waits for each before its next command,
    // so they cannot be reordered by this).
    if (!out.empty()) {
      co_await asio::async_write(c->socket, asio::buffer(out), asio::redirect_error(asio::use_awaitable, ec));
      out.clear();
      if (ec) co_return;
    }
    if (!more) co_return;
  }
}

Task<void> NativeMilterDoor::serve(asio::generic::stream_protocol::socket socket) {
  ++counters_.connections;
  ++counters_.connections_open;
  auto c = std::make_shared<Connection>(std::move(socket), rules_);
  try {
    c->deadline = SteadyClock::now() + idle_timeout_;
    arm_idle_timer(c);
    co_await session(c);
  } catch (const std::exception& e) {
    ++counters_.internal_errors;
    log::error("milter connection failed", {{"door", "milter"}, {"error", e.what()}});
  } catch (...) {
    ++counters_.internal_errors;
  }
  c->finished = true;
  c->timer.cancel();
  boost::system::error_code ec;
  c->socket.shutdown(asio::socket_base::shutdown_both, ec);
  c->socket.close(ec);
  --counters_.connections_open;
}

}  // namespace tlsfence::milter
