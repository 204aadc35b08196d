#pragma once
// What both milter engines (door.h on libmilter, native.h on the daemon's own loop) share:
// the counters they report, the state of the message being received, and the decisions at
// MAIL, RCPT, header and end of message. Nothing here knows a wire format.
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "metrics/metric.h"
#include "policy/forced_tls.h"
#include "policy/reception_rules.h"
#include "tlsfence/policy.h"

namespace tlsfence::milter {

struct MilterStats {
  std::uint64_t connections = 0;
  std::uint64_t connections_open = 0;  // connection data allocated and not yet freed
  std::uint64_t messages = 0;          // MAIL FROM seen
  std::uint64_t recipients = 0;
  std::uint64_t refused = 0;          // tempfail/reject at RCPT (DNSSEC bogus)
  std::uint64_t forced = 0;           // X-TLSfence header added
  std::uint64_t tls_required_no = 0;  // forced, but not marked because of TLS-Required: No
  std::uint64_t lookups_late = 0;     // answered before the lookup finished
  std::uint64_t prefetched = 0;       // lookups started, not waited for (on-dnssec-bogus = continue)
  std::uint64_t internal_errors = 0;
  std::uint64_t protocol_errors = 0;  // native engine: malformed packets (connection closed)
};

// The replies of the native engine, for tlsfence_milter_replies_total{reply}.
enum class ReplyKind : std::size_t { continue_, accept, tempfail, reject };
inline constexpr std::size_t kReplyKinds = 4;

struct MilterCounters {
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> connections_open{0};
  std::atomic<std::uint64_t> messages{0};
  std::atomic<std::uint64_t> recipients{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> forced{0};
  std::atomic<std::uint64_t> tls_required_no{0};
  std::atomic<std::uint64_t> lookups_late{0};
  std::atomic<std::uint64_t> prefetched{0};
  std::atomic<std::uint64_t> internal_errors{0};
  std::atomic<std::uint64_t> protocol_errors{0};
  metrics::CounterArray<kReplyKinds> replies;  // native engine: every reply sent, by kind
  metrics::LatencyHistogram rcpt_latency;      // native engine: RCPT received → its reply

  MilterStats snapshot() const;
};

// RFC 8689 §5: `TLS-Required: No` (name and value case-insensitive, surrounding blanks
// ignored).
bool is_tls_required_no(std::string_view name, std::string_view value);

// The header the door adds to a forced-TLS message; contrib's milter_header_checks line turns
// it into `FILTER tlsfence-encrypt:`.
inline constexpr std::string_view kForcedHeaderName = "X-TLSfence";
inline constexpr std::string_view kForcedHeaderValue = "forced-tls";

// The message being received on one milter connection.
struct MessageState {
  policy::ForcedBy forced_by = policy::ForcedBy::none;
  bool tls_required_no = false;

  void reset() { *this = MessageState{}; }

  // MAIL FROM: which rule (if any) forces TLS for the sender, SASL user or client.
  void on_mail(const policy::ForcedTls& rules, std::string_view sender_arg, std::string_view sasl_user,
               std::string_view client_address, MilterCounters& counters);
  // RCPT TO, after the lookup (`decision`: nullopt when not waited for or late): the refusal
  // to answer (logged and counted), or nullopt — then the recipient's domain may force TLS.
  std::optional<policy::Refusal> on_rcpt(const policy::ForcedTls& rules, BogusAction on_bogus,
                                         std::string_view recipient,
                                         const std::optional<PolicyDecision>& decision,
                                         MilterCounters& counters);
  void on_header(std::string_view name, std::string_view value) {
    if (is_tls_required_no(name, value)) tls_required_no = true;
  }
  // End of message: true when the forced-TLS header is to be added (the caller adds it and
  // counts/logs through forced_marked); a waived message (TLS-Required: No) is counted and
  // logged here. Does not reset.
  bool wants_header(std::string_view queue_id, MilterCounters& counters) const;
  void forced_marked(std::string_view queue_id, MilterCounters& counters) const;
};

}  // namespace tlsfence::milter
