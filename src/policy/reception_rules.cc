// Reception doors' shared rules without I/O: see reception_rules.h.
#include "policy/reception_rules.h"

#include "policy/forced_tls.h"

namespace tlsfence::policy {

ReceptionOptions ReceptionOptions::from_config(const Config::Reception& reception) {
  ReceptionOptions o;
  o.wait = std::chrono::seconds(reception.wait_seconds);
  o.on_dnssec_bogus = reception.on_dnssec_bogus;
  o.forced_tls_transport = reception.forced_tls_transport;
  return o;
}

bool dnssec_bogus(const PolicyDecision& decision) {
  return decision.verdict == Verdict::temp_fail &&
         (decision.result_type == "dnssec-invalid" || decision.mx_dnssec == DnssecState::bogus);
}

namespace {

// Printable ASCII only, and no '%' (libmilter treats the reply text as a format string).
std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7f && c != '%' ? c : '?');
  }
  return out;
}

}  // namespace

std::optional<Refusal> bogus_refusal(const PolicyDecision& decision, BogusAction action) {
  if (action == BogusAction::continue_ || !dnssec_bogus(decision)) return std::nullopt;
  Refusal r;
  r.permanent = action == BogusAction::reject;
  const std::string domain =
      printable(decision.domain.empty() ? std::string("the recipient domain") : decision.domain);
  r.text = "DNSSEC validation failed for recipient domain " + domain +
           (r.permanent ? "; mail to it cannot be delivered securely"
                        : "; mail to it cannot be delivered securely now, try again later");
  return r;
}

std::string recipient_lookup_key(std::string_view recipient) {
  return std::string(address_domain(strip_angle_brackets(recipient)));
}

}  // namespace tlsfence::policy
