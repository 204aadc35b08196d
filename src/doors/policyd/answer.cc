// The policy delegation door's decisions: see answer.h, and server.h for the protocol.
#include "doors/policyd/answer.h"

#include "util/log.h"

namespace tlsfence::policyd {

std::string protocol_error_action(std::string_view what) {
  return "451 4.3.5 tlsfence: policy request protocol error: " + std::string(what);
}

RequestPlan plan_request(const parse::PolicydRequest& request, const policy::ReceptionOptions& options) {
  RequestPlan plan;
  const std::string_view kind = request.get("request");
  if (kind != "smtpd_access_policy") {
    plan.error = protocol_error_action(kind.empty() ? "no request attribute" : "unknown request type");
    return plan;
  }
  plan.key = policy::recipient_lookup_key(request.get("recipient"));
  // With on-dnssec-bogus = continue the decision cannot change the answer: the lookup is only
  // started (it warms the cache for delivery) and the answer goes at once.
  plan.wait = !plan.key.empty() && options.on_dnssec_bogus != BogusAction::continue_;
  return plan;
}

Answer decide_action(const parse::PolicydRequest& request, const std::optional<PolicyDecision>& decision,
                     const policy::ReceptionOptions& options, const policy::ForcedTls& forced) {
  const std::string_view recipient = request.get("recipient");
  if (decision) {
    if (auto refusal = policy::bogus_refusal(*decision, options.on_dnssec_bogus)) {
      log::info("policy refused recipient", {{"door", "policy"},
                                             {"queue_id", request.get("queue_id")},
                                             {"recipient", recipient},
                                             {"domain", decision->domain},
                                             {"reason", "dnssec-bogus"},
                                             {"action", refusal->permanent ? "reject" : "defer"}});
      return {(refusal->permanent ? "REJECT 5.7.5 " : "DEFER_IF_PERMIT 4.7.5 ") + refusal->text,
              Answer::Outcome::refused};
    }
  }

  policy::MessageFacts facts;
  facts.sender = std::string(request.get("sender"));
  facts.sasl_user = std::string(request.get("sasl_username"));
  facts.client_address = std::string(request.get("client_address"));
  if (!recipient.empty()) facts.recipients.emplace_back(recipient);
  const policy::ForcedBy why = forced.why(facts);
  if (why != policy::ForcedBy::none) {
    log::info("policy forced tls", {{"door", "policy"},
                                    {"queue_id", request.get("queue_id")},
                                    {"sender", facts.sender},
                                    {"recipient", recipient},
                                    {"forced_by", policy::to_string(why)},
                                    {"transport", options.forced_tls_transport}});
    return {"FILTER " + options.forced_tls_transport + ":", Answer::Outcome::filtered};
  }
  return {"DUNNO", Answer::Outcome::dunno};
}

}  // namespace tlsfence::policyd
