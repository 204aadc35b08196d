// The reception doors' bounded wait for a lookup, and the prefetch: see reception.h.
// g++ 12 misreads Boost 1.74 awaitable frames' sized operator delete (false positive).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include "policy/reception.h"

#include <boost/asio/redirect_error.hpp>
#include <memory>

namespace tlsfence::policy {

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
