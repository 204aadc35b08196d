// The milter door on the daemon's loop: see native.h for the protocol and the decisions.
// g++ 12 misreads Boost 1.74 awaitable frames' sized operator delete (false positive).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include "doors/milter/native.h"

#include <libmilter/mfapi.h>  // SMFIF_* (mfdef.h: commands, replies, SMFIP_*)
#include <libmilter/mfdef.h>

#include <algorithm>
#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <exception>

#include "parse/milter_wire.h"
#include "util/idle_timer.h"
#include "util/log.h"

namespace tlsfence::milter {

namespace wire = parse::milter;
using SteadyClock = std::chrono::steady_clock;

struct NativeMilterDoor::Connection {
  Connection(asio::generic::stream_protocol::socket s, std::shared_ptr<const Rules> r,
             MilterCounters& counters)
      : socket(std::move(s)), timer(socket.get_executor()), rules(std::move(r)), session(counters) {}
  asio::generic::stream_protocol::socket socket;
  asio::steady_timer timer;
  SteadyClock::time_point deadline = SteadyClock::time_point::max();
  bool finished = false;
  bool timed_out = false;

  std::shared_ptr<const Rules> rules;  // the rules of the current packet
  MilterSession session;               // the protocol's state (session.h)
};

NativeMilterDoor::NativeMilterDoor(PolicyLookup& lookup, const Config::Reception& reception)
    : NativeMilterDoor(lookup, policy::ReceptionOptions::from_config(reception),
                       policy::ForcedTls::from_config(reception)) {}

NativeMilterDoor::NativeMilterDoor(PolicyLookup& lookup, policy::ReceptionOptions options,
                                   policy::ForcedTls forced)
    : lookup_(lookup), rules_(std::make_shared<const Rules>(Rules{std::move(options), std::move(forced)})) {}

void NativeMilterDoor::set_reception(policy::ReceptionOptions options, policy::ForcedTls forced) {
  rules_ = std::make_shared<const Rules>(Rules{std::move(options), std::move(forced)});
}

// One packet through the state machine (session.h), and RCPT's lookup. Appends the reply
// (if the step has one) to `out`.
Task<Step> NativeMilterDoor::handle(Connection& c, char command, std::string_view data, std::string& out) {
  Step s = c.session.on_packet(*c.rules, command, data, out);
  if (s.next != Step::Next::lookup) co_return s;
  const auto rules = c.rules;  // the lookup may outlast a reload
  std::optional<PolicyDecision> decision;
  std::string failure;
  try {
    if (s.wait) {
      decision = co_await policy::decide_within(lookup_, s.key, rules->options.wait);
    } else {
      policy::prefetch(lookup_, s.key, co_await asio::this_coro::executor);
    }
  } catch (const std::exception& e) {
    failure = e.what();
    if (failure.empty()) failure = "lookup failed";
  }
  if (failure.empty()) {
    c.session.on_rcpt_decision(*rules, decision, out);
  } else {
    c.session.on_rcpt_failure(failure, out);
  }
  co_return Step{};
}

Task<void> NativeMilterDoor::session(std::shared_ptr<Connection> c) {
  wire::PacketReader reader;
  std::array<char, 16 * 1024> buffer;
  std::string out;
  while (true) {
    c->deadline = SteadyClock::now() + idle_timeout_;
    boost::system::error_code ec;
    const std::size_t n = co_await c->socket.async_read_some(asio::buffer(buffer),
                                                             asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (c->timed_out) log::info("milter connection idle, closed", {{"door", "milter"}});
      co_return;
    }
    reader.feed(std::string_view(buffer.data(), n));
    bool more = true;
    while (more) {
      auto r = reader.next();
      if (r.status == wire::PacketReader::Status::need_more) break;
      if (r.status == wire::PacketReader::Status::error) {
        ++counters_.protocol_errors;
        log::warning("milter protocol error, connection closed",
                     {{"door", "milter"}, {"error", wire::to_string(r.error)}});
        co_return;
      }
      c->rules = rules_;
      const Step s = co_await handle(*c, r.packet.command, r.packet.data, out);
      if (s.next == Step::Next::close) {
        ++counters_.protocol_errors;
        log::warning("milter protocol error, connection closed", {{"door", "milter"}, {"error", s.error}});
        co_return;
      }
      more = s.next != Step::Next::quit;
    }
    // Every reply of this read in one write (the MTA waits for each before its next command,
    // so they cannot be reordered by this).
    if (!out.empty()) {
      co_await asio::async_write(c->socket, asio::buffer(out), asio::redirect_error(asio::use_awaitable, ec));
      out.clear();
      if (ec) co_return;
    }
    if (!more) co_return;
  }
}

Task<void> NativeMilterDoor::serve(asio::generic::stream_protocol::socket socket) {
  ++counters_.connections;
  ++counters_.connections_open;
  auto c = std::make_shared<Connection>(std::move(socket), rules_, counters_);
  try {
    c->deadline = SteadyClock::now() + idle_timeout_;
    arm_idle_timer(c);
    co_await session(c);
  } catch (const std::exception& e) {
    ++counters_.internal_errors;
    log::error("milter connection failed", {{"door", "milter"}, {"error", e.what()}});
  } catch (...) {
    ++counters_.internal_errors;
  }
  c->finished = true;
  c->timer.cancel();
  boost::system::error_code ec;
  c->socket.shutdown(asio::socket_base::shutdown_both, ec);
  c->socket.close(ec);
  --counters_.connections_open;
}

}  // namespace tlsfence::milter
