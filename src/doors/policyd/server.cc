// Postfix policy delegation door: see server.h for the protocol, the decisions and the
// failure behaviour.
// g++ 12 misreads Boost 1.74 awaitable frames' sized operator delete (false positive).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include "doors/policyd/server.h"

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <exception>
#include <memory>

#include "doors/policyd/answer.h"
#include "util/log.h"

namespace tlsfence::policyd {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::string_view kInternalError = "451 4.3.5 tlsfence: internal error";

}  // namespace

struct PolicydDoor::Connection {
  explicit Connection(asio::generic::stream_protocol::socket s)
      : socket(std::move(s)), timer(socket.get_executor()) {}
  asio::generic::stream_protocol::socket socket;
  asio::steady_timer timer;
  Clock::time_point deadline = Clock::time_point::max();
  bool finished = false;
  bool timed_out = false;
};

PolicydDoor::PolicydDoor(PolicyLookup& lookup, const Config::Reception& reception)
    : PolicydDoor(lookup, policy::ReceptionOptions::from_config(reception),
                  policy::ForcedTls::from_config(reception)) {}

PolicydDoor::PolicydDoor(PolicyLookup& lookup, policy::ReceptionOptions options, policy::ForcedTls forced)
    : lookup_(lookup), options_(std::move(options)), forced_(std::move(forced)) {}

ActionKind action_kind(std::string_view action) {
  if (action.starts_with("DUNNO")) return ActionKind::dunno;
  if (action.starts_with("FILTER")) return ActionKind::filter;
  if (action.starts_with("REJECT") || action.starts_with("5")) return ActionKind::reject;
  return ActionKind::defer;
}

DoorStats PolicydDoor::stats() const {
  DoorStats s;
  s.connections = connections_.load();
  s.requests = requests_.load();
  s.protocol_errors = protocol_errors_.load();
  s.idle_closed = idle_closed_.load();
  s.internal_errors = internal_errors_.load();
  s.filtered = filtered_.load();
  s.refused = refused_.load();
  s.lookups_late = lookups_late_.load();
  s.prefetched = prefetched_.load();
  return s;
}

// The decisions are answer.h's; here the lookup and the counters.
Task<std::string> PolicydDoor::answer(const parse::PolicydRequest& request) {
  const RequestPlan plan = plan_request(request, options_);
  if (!plan.error.empty()) {
    ++protocol_errors_;
    co_return plan.error;
  }
  std::optional<PolicyDecision> decision;
  if (!plan.key.empty()) {
    if (!plan.wait) {
      ++prefetched_;
      policy::prefetch(lookup_, plan.key, co_await asio::this_coro::executor);
    } else {
      decision = co_await policy::decide_within(lookup_, plan.key, options_.wait);
      if (!decision) ++lookups_late_;
    }
  }
  Answer a = decide_action(request, decision, options_, forced_);
  if (a.outcome == Answer::Outcome::refused) ++refused_;
  if (a.outcome == Answer::Outcome::filtered) ++filtered_;
  co_return std::move(a.action);
}

Task<void> PolicydDoor::watchdog(std::shared_ptr<Connection> c) {
  while (!c->finished) {
    c->timer.expires_at(c->deadline);
    boost::system::error_code ec;
    co_await c->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (c->finished) co_return;
    if (c->deadline <= Clock::now()) {
      c->timed_out = true;
      c->socket.close(ec);
      co_return;
    }
  }
}

Task<void> PolicydDoor::session(std::shared_ptr<Connection> c) {
  parse::PolicydParser parser;
  std::array<char, 4096> buffer;
  const auto idle = options_.idle_timeout;
  auto arm = [&] { c->deadline = idle.count() > 0 ? Clock::now() + idle : Clock::time_point::max(); };
  auto send = [&](std::string_view action) -> Task<bool> {
    const std::string reply = parse::encode_policyd_reply(action);
    arm();
    boost::system::error_code ec;
    co_await asio::async_write(c->socket, asio::buffer(reply), asio::redirect_error(asio::use_awaitable, ec));
    c->deadline = Clock::time_point::max();
    co_return !ec;
  };

  while (true) {
    arm();
    boost::system::error_code ec;
    const std::size_t n = co_await c->socket.async_read_some(asio::buffer(buffer),
                                                             asio::redirect_error(asio::use_awaitable, ec));
    c->deadline = Clock::time_point::max();
    const auto read_at = std::chrono::steady_clock::now();  // latency starts here
    if (ec) {
      if (c->timed_out) {
        ++idle_closed_;
        log::info("policy connection idle, closed", {{"door", "policy"}});
      } else if (parser.in_request()) {
        log::info("policy connection closed in mid-request", {{"door", "policy"}});
      }
      co_return;
    }
    parser.feed(std::string_view(buffer.data(), n));
    while (true) {
      auto r = parser.next();
      if (r.status == parse::PolicydParser::Status::need_more) break;
      if (r.status == parse::PolicydParser::Status::error) {
        ++protocol_errors_;
        log::warning("policy request refused", {{"door", "policy"}, {"error", parse::to_string(r.error)}});
        actions_.inc(static_cast<std::size_t>(ActionKind::defer));
        latency_.observe(std::chrono::steady_clock::now() - read_at);
        co_await send(protocol_error_action(parse::to_string(r.error)));
        co_return;  // the stream cannot be resynchronised
      }
      ++requests_;
      std::string action;
      try {
        action = co_await answer(r.request);
      } catch (const std::exception& e) {
        ++internal_errors_;
        log::error("policy internal error", {{"door", "policy"}, {"error", e.what()}});
        action = kInternalError;
      }
      actions_.inc(static_cast<std::size_t>(action_kind(action)));
      latency_.observe(std::chrono::steady_clock::now() - read_at);
      if (!co_await send(action)) co_return;
    }
  }
}

Task<void> PolicydDoor::serve(asio::generic::stream_protocol::socket socket) {
  ++connections_;
  auto c = std::make_shared<Connection>(std::move(socket));
  try {
    asio::co_spawn(c->socket.get_executor(), watchdog(c), asio::detached);
    co_await session(c);
  } catch (const std::exception& e) {
    ++internal_errors_;
    log::error("policy connection failed", {{"door", "policy"}, {"error", e.what()}});
  } catch (...) {
    ++internal_errors_;
  }
  c->finished = true;
  c->timer.cancel();
  boost::system::error_code ec;
  c->socket.shutdown(asio::socket_base::shutdown_both, ec);
  c->socket.close(ec);
}

}  // namespace tlsfence::policyd
