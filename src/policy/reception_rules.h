#pragma once
// The reception doors' (policy delegation, milter) rules without any I/O: their options, the
// "is this recipient domain DNSSEC-bogus" test with the refusal it earns, and the recipient's
// lookup key. Standard library only, so the doors' state machines can be fuzzed without Asio;
// the bounded wait for a lookup is in reception.h.
//
// Nothing here knows Postfix's or libmilter's wire formats: each door turns a Refusal into
// its own reply (`action=DEFER_IF_PERMIT 4.7.5 …`, smfi_setreply 451 4.7.5 …).
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "tlsfence/config.h"
#include "tlsfence/policy.h"

namespace tlsfence::policy {

struct ReceptionOptions {
  std::chrono::milliseconds wait{2'000};  // [reception] wait: longest a door waits for a lookup
  BogusAction on_dnssec_bogus = BogusAction::continue_;
  std::string forced_tls_transport = "tlsfence-encrypt";
  // Policy door: close a connection idle this long. Postfix closes its side after
  // smtpd_policy_service_max_idle (300 s); 0 = never.
  std::chrono::milliseconds idle_timeout{330'000};

  static ReceptionOptions from_config(const Config::Reception& reception);
};

// True when the decision is a temporary failure caused by DNSSEC validation failing
// (result type dnssec-invalid, or the MX RRset bogus) — not a SERVFAIL or a timeout.
bool dnssec_bogus(const PolicyDecision& decision);

struct Refusal {
  bool permanent = false;  // reject (5.7.5) rather than defer (4.7.5)
  std::string text;        // human text, printable ASCII, no '%', no status codes
};

// The refusal `action` asks for when `decision` is DNSSEC-bogus; nullopt otherwise (and
// always for BogusAction::continue_).
std::optional<Refusal> bogus_refusal(const PolicyDecision& decision, BogusAction action);

// The key to look up for an envelope recipient: the domain after the last '@', without
// <>; "" for a recipient without a domain (postmaster, a local name).
std::string recipient_lookup_key(std::string_view recipient);

}  // namespace tlsfence::policy
