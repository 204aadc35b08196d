// Decisions shared by both milter engines: see message.h.
#include "doors/milter/message.h"

#include <cctype>

#include "util/log.h"

namespace tlsfence::milter {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

MilterStats MilterCounters::snapshot() const {
  MilterStats s;
  s.connections = connections.load();
  s.connections_open = connections_open.load();
  s.messages = messages.load();
  s.recipients = recipients.load();
  s.refused = refused.load();
  s.forced = forced.load();
  s.tls_required_no = tls_required_no.load();
  s.lookups_late = lookups_late.load();
  s.prefetched = prefetched.load();
  s.internal_errors = internal_errors.load();
  s.protocol_errors = protocol_errors.load();
  return s;
}

bool is_tls_required_no(std::string_view name, std::string_view value) {
  return iequals(trim(name), "TLS-Required") && iequals(trim(value), "No");
}

void MessageState::on_mail(const policy::ForcedTls& rules, std::string_view sender_arg,
                           std::string_view sasl_user, std::string_view client_address,
                           MilterCounters& counters) {
  ++counters.messages;
  reset();
  policy::MessageFacts facts;
  facts.sender = std::string(policy::strip_angle_brackets(sender_arg));
  facts.sasl_user = std::string(sasl_user);
  facts.client_address = std::string(client_address);
  forced_by = rules.why(facts);
}

std::optional<policy::Refusal> MessageState::on_rcpt(const policy::ForcedTls& rules, BogusAction on_bogus,
                                                     std::string_view recipient,
                                                     const std::optional<PolicyDecision>& decision,
                                                     MilterCounters& counters) {
  if (decision) {
    if (auto refusal = policy::bogus_refusal(*decision, on_bogus)) {
      ++counters.refused;
      log::info("milter refused recipient", {{"door", "milter"},
                                             {"recipient", recipient},
                                             {"domain", decision->domain},
                                             {"reason", "dnssec-bogus"},
                                             {"action", refusal->permanent ? "reject" : "defer"}});
      return refusal;
    }
  }
  if (forced_by == policy::ForcedBy::none && rules.recipient_forced(recipient)) {
    forced_by = policy::ForcedBy::recipient_domain;
  }
  return std::nullopt;
}

bool MessageState::wants_header(std::string_view queue_id, MilterCounters& counters) const {
  if (forced_by == policy::ForcedBy::none) return false;
  if (!tls_required_no) return true;
  ++counters.tls_required_no;
  log::info("milter forced tls waived", {{"door", "milter"},
                                         {"queue_id", queue_id},
                                         {"forced_by", policy::to_string(forced_by)},
                                         {"reason", "TLS-Required: No"}});
  return false;
}

void MessageState::forced_marked(std::string_view queue_id, MilterCounters& counters) const {
  ++counters.forced;
  log::info("milter forced tls",
            {{"door", "milter"}, {"queue_id", queue_id}, {"forced_by", policy::to_string(forced_by)}});
}

}  // namespace tlsfence::milter
