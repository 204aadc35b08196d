// Reception doors' shared rules: see reception.h.
// g++ 12 misreads Boost 1.74 awaitable frames' sized operator delete (false positive).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include "policy/reception.h"

#include <boost/asio/redirect_error.hpp>
#include <memory>

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

namespace {

struct Pending {
  explicit Pending(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  std::optional<PolicyDecision> decision;
  bool done = false;
};

Task<void> run_lookup(PolicyLookup& lookup, std::string key, std::shared_ptr<Pending> pending) {
  try {
    pending->decision = co_await lookup.decide(std::move(key));
  } catch (...) {
    pending->decision.reset();  // the caller answers without it; the service logs its own failures
  }
  pending->done = true;
  pending->timer.cancel();
}

}  // namespace

void prefetch(PolicyLookup& lookup, std::string key, const asio::any_io_executor& ex) {
  auto pending = std::make_shared<Pending>(ex);
  asio::co_spawn(ex, run_lookup(lookup, std::move(key), std::move(pending)), asio::detached);
}

Task<std::optional<PolicyDecision>> decide_within(PolicyLookup& lookup, std::string key,
                                                  std::chrono::milliseconds wait) {
  const auto ex = co_await asio::this_coro::executor;
  auto pending = std::make_shared<Pending>(ex);
  asio::co_spawn(ex, run_lookup(lookup, std::move(key), pending), asio::detached);
  pending->timer.expires_after(wait);
  if (!pending->done) {
    boost::system::error_code ec;
    co_await pending->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (!pending->done) co_return std::nullopt;
  co_return std::move(pending->decision);
}

}  // namespace tlsfence::policy
