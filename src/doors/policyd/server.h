#pragma once
// The Postfix policy delegation front door (check_policy_service, SMTPD_POLICY_README).
//
// One coroutine per accepted connection reads attribute blocks (parse/policyd_attrs.h) and
// answers each with `action=…` and an empty line, in order; a connection carries many
// requests. For `request=smtpd_access_policy`:
//  - with a `recipient` (protocol_state RCPT): the recipient domain's lookup is started (or
//    joined, the service coalesces) through PolicyLookup::decide and waited for at most
//    ReceptionOptions::wait; past the deadline the answer goes without it while the lookup
//    continues and warms the cache for delivery. With on-dnssec-bogus = continue the
//    decision cannot change the answer: the lookup is started and not waited for;
//  - answer, first match wins:
//      recipient domain DNSSEC-bogus and on-dnssec-bogus = defer
//                         → `DEFER_IF_PERMIT 4.7.5 DNSSEC validation failed for …`
//        (a later restriction's explicit REJECT still wins; a PERMIT becomes a 450 defer)
//      … and on-dnssec-bogus = reject → `REJECT 5.7.5 DNSSEC validation failed for …`
//      forced TLS (sender, sasl_username, client_address, recipient domain)
//                         → `FILTER <forced-tls-transport>:` (the whole message is routed to
//        that master.cf transport; restriction processing continues)
//      otherwise          → `DUNNO`.
// The policy door sees no headers: RFC 8689 `TLS-Required: No` is honoured by the milter
// door only (contrib shows a header_checks line that undoes the FILTER for such messages).
//
// Trust: the peer is the local Postfix, but every byte is checked by the parser. A framing
// error (line over limits::policy_line_max, over limits::policy_attributes_max attributes,
// NUL/control bytes, a line without '=') is answered `action=451 4.3.5 …protocol error…`
// and the connection is closed (it cannot be resynchronised). A well-framed request with a
// missing or unknown `request` gets the same answer and the connection stays open.
// A close in the middle of a request is a clean close. Connections idle for
// ReceptionOptions::idle_timeout (no byte read or written) are closed.
//
// Failure: an exception while answering is caught here and answered
// `action=451 4.3.5 tlsfence: internal error` (logged). Nothing escapes serve().
//
// The decisions, without I/O, are answer.h's (fuzzed by tests/fuzz/policyd_session); this
// door frames, looks up, counts and writes.
//
// Threads: serve() runs on the socket's executor (single-threaded io_context or a strand).
// The door and the PolicyLookup must outlive every serve() coroutine and every lookup it
// started (i.e. the io_context's run).
#include <atomic>
#include <cstdint>
#include <string>

#include "async/asio.h"
#include "metrics/metric.h"
#include "parse/policyd_attrs.h"
#include "policy/forced_tls.h"
#include "policy/lookup.h"
#include "policy/reception.h"
#include "tlsfence/config.h"

#include <boost/asio/generic/stream_protocol.hpp>

namespace tlsfence::policyd {

struct DoorStats {
  std::uint64_t connections = 0;
  std::uint64_t requests = 0;
  std::uint64_t protocol_errors = 0;
  std::uint64_t idle_closed = 0;
  std::uint64_t internal_errors = 0;
  std::uint64_t filtered = 0;      // answered FILTER (forced TLS)
  std::uint64_t refused = 0;       // answered DEFER_IF_PERMIT / REJECT (DNSSEC bogus)
  std::uint64_t lookups_late = 0;  // answered before the lookup finished
  std::uint64_t prefetched = 0;    // lookups started without waiting (on-dnssec-bogus = continue)
};

// The actions answered, for tlsfence_policy_requests_total{action}: DUNNO, FILTER,
// DEFER (DEFER_IF_PERMIT and the 451 protocol/internal-error answers), REJECT.
enum class ActionKind : std::size_t { dunno, filter, defer, reject };
inline constexpr std::size_t kActionKinds = 4;
ActionKind action_kind(std::string_view action);

class PolicydDoor {
 public:
  // Builds the forced-TLS matcher from `reception`; throws policy::ForcedTlsError naming a
  // bad rule (start-up).
  PolicydDoor(PolicyLookup& lookup, const Config::Reception& reception);
  PolicydDoor(PolicyLookup& lookup, policy::ReceptionOptions options, policy::ForcedTls forced);
  PolicydDoor(const PolicydDoor&) = delete;
  PolicydDoor& operator=(const PolicydDoor&) = delete;

  // Serves one accepted connection until the peer closes, a framing error or the idle
  // timeout. Never throws. Use: co_spawn(ex, door.serve(std::move(socket)), asio::detached).
  Task<void> serve(asio::generic::stream_protocol::socket socket);

  // The action (without "action=" and framing) for one well-framed request.
  Task<std::string> answer(const parse::PolicydRequest& request);

  DoorStats stats() const;
  // Answers by action (index: ActionKind) and the time from reading a request to its answer.
  const metrics::CounterArray<kActionKinds>& actions() const { return actions_; }
  metrics::HistogramSnapshot latency() const { return latency_.snapshot(); }
  const policy::ReceptionOptions& options() const { return options_; }
  // Replaces the reception rules (a SIGHUP reload). Call on the door's executor thread; an
  // open connection keeps its idle timeout, its next request uses the new rules.
  void set_reception(policy::ReceptionOptions options, policy::ForcedTls forced) {
    options_ = std::move(options);
    forced_ = std::move(forced);
  }

 private:
  struct Connection;
  static Task<void> watchdog(std::shared_ptr<Connection> c);
  Task<void> session(std::shared_ptr<Connection> c);

  PolicyLookup& lookup_;
  policy::ReceptionOptions options_;
  policy::ForcedTls forced_;

  std::atomic<std::uint64_t> connections_{0};
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> protocol_errors_{0};
  std::atomic<std::uint64_t> idle_closed_{0};
  std::atomic<std::uint64_t> internal_errors_{0};
  std::atomic<std::uint64_t> filtered_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<std::uint64_t> lookups_late_{0};
  std::atomic<std::uint64_t> prefetched_{0};
  metrics::CounterArray<kActionKinds> actions_;
  metrics::LatencyHistogram latency_;
};

}  // namespace tlsfence::policyd
