#pragma once
// The milter front door on the daemon's own event loop (`[milter] engine = native`, the
// default): libmilter's wire protocol (parse/milter_wire.h, libmilter's constants) served by
// one coroutine per MTA connection on the io thread, like the socketmap and policy doors.
//
// Why not libmilter here: libmilter hands every command to a worker thread of its pool and
// back (and our lookups then hop to the io thread and back), several context switches per
// command; through a real Postfix that cost more than the whole policy door
// (tests/bench/reception). This door does the same work with no thread hop at all. The
// libmilter engine (door.h) stays available as `[milter] engine = libmilter`; both share
// the decisions (message.h) and answer the same black-box tests (tests/integration/milter).
//
// Protocol, as libmilter answers it:
//  - negotiation (SMFIC_OPTNEG, first packet): version min(MTA's, 6); actions: SMFIF_ADDHDRS
//    if the MTA allows it (a warning otherwise: forced TLS cannot be marked); steps left out:
//    HELO, body, end of headers, unknown commands, and the headers unless forced-TLS rules
//    exist; no-reply (SMFIP_NR_*) for connect, MAIL and the headers when the MTA offers it.
//    Any other first packet is a protocol error.
//  - macros (SMFIC_MACRO): `{auth_authen}` (with MAIL) and `i` (the queue id, for the log)
//    are kept, the rest ignored. Never answered.
//  - connect: the client address (IPv4/IPv6) for client-network rules. MAIL: the sender and
//    the forced-TLS decision. RCPT: the recipient domain's lookup (PolicyLookup), waited for at
//    most ReceptionOptions::wait (not at all with on-dnssec-bogus = continue: prefetch only);
//    a DNSSEC-bogus domain is answered `451 4.7.5 …` (defer) or `550 5.7.5 …` (reject).
//    DATA: a message no rule forces is accepted (the MTA then sends this door nothing more
//    for it). Header: `TLS-Required: No`. End of message: `X-TLSfence: forced-tls` added
//    for a forced message without `TLS-Required: No`. Abort: the message is forgotten.
//    QUIT_NC: the connection data is forgotten (a new SMTP session follows, same socket).
//    QUIT or close: the connection ends.
//  - a step the MTA agreed not to wait for is never answered; a failure in it is answered
//    `451 4.3.5` at the next step that replies, until the message ends (abort, next MAIL).
//  - an exception while handling a packet is answered `451 4.3.5 tlsfence: internal error`
//    (replying steps) and counted. A known command whose data lacks its layout (the framing
//    is intact) is a protocol error that keeps the connection: it and every later step of
//    the SMTP session that replies are answered `451 4.3.5` (a lost client address, SASL
//    name or header must not silently drop a forced-TLS rule) until QUIT_NC or a new
//    connect. What cannot be resynchronised — a bad length, no or a second negotiation, an
//    unknown command (its reply rule is unknown) — closes the connection; the MTA then
//    applies its own milter failure action (Postfix milter_default_action, Sendmail F=T:
//    tempfail).
//  - a connection idle for two hours is closed (libmilter's timeout, above Postfix's).
//
// The protocol's state machine, without I/O, is session.h's MilterSession (fuzzed by
// tests/fuzz/milter_session); this door frames the packets, does RCPT's lookup and writes the
// replies.
//
// Threads: serve() runs on the socket's executor (the daemon's one-thread io_context), as do
// set_reception() and the lookups. stats() from any thread.
#include <memory>

#include "async/asio.h"
#include "doors/milter/message.h"
#include "doors/milter/session.h"
#include "policy/forced_tls.h"
#include "policy/lookup.h"
#include "policy/reception.h"
#include "tlsfence/config.h"

#include <boost/asio/generic/stream_protocol.hpp>

namespace tlsfence::milter {

class NativeMilterDoor {
 public:
  // Throws policy::ForcedTlsError naming a bad rule.
  NativeMilterDoor(PolicyLookup& lookup, const Config::Reception& reception);
  NativeMilterDoor(PolicyLookup& lookup, policy::ReceptionOptions options, policy::ForcedTls forced);
  NativeMilterDoor(const NativeMilterDoor&) = delete;
  NativeMilterDoor& operator=(const NativeMilterDoor&) = delete;

  // Serves one MTA connection until QUIT, close, a protocol error or the idle timeout.
  // Never throws. Use: co_spawn(ex, door.serve(std::move(socket)), asio::detached).
  Task<void> serve(asio::generic::stream_protocol::socket socket);

  // A SIGHUP reload, on the executor's thread: open connections use the new rules from their
  // next packet (the steps they negotiated stay).
  void set_reception(policy::ReceptionOptions options, policy::ForcedTls forced);

  MilterStats stats() const { return counters_.snapshot(); }
  const MilterCounters& counters() const { return counters_; }

  // Idle time after which a connection is closed (tests shorten it).
  void set_idle_timeout(std::chrono::milliseconds t) { idle_timeout_ = t; }

 private:
  struct Connection;
  using Rules = SessionRules;
  Task<void> session(std::shared_ptr<Connection> c);
  Task<Step> handle(Connection& c, char command, std::string_view data, std::string& out);

  PolicyLookup& lookup_;
  std::shared_ptr<const Rules> rules_;
  std::chrono::milliseconds idle_timeout_{std::chrono::hours(2)};
  MilterCounters counters_;
};

}  // namespace tlsfence::milter
