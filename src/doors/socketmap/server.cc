// The socketmap door: see server.h for what it trusts and what it does on failure.
#include "doors/socketmap/server.h"

#include <exception>
#include <memory>

#include "async/asio.h"
#include "parse/netstring.h"
#include "util/idle_timer.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/write.hpp>

namespace tlsfence::socketmap {

using Socket = asio::generic::stream_protocol::socket;
using SteadyClock = std::chrono::steady_clock;

struct SocketmapDoor::Connection {
  explicit Connection(Socket s, std::chrono::milliseconds idle)
      : socket(std::move(s)), timer(socket.get_executor()), idle(idle) {}
  void touch() { deadline = SteadyClock::now() + idle; }
  void touch(SteadyClock::time_point now) { deadline = now + idle; }

  Socket socket;
  asio::steady_timer timer;
  std::chrono::milliseconds idle;
  SteadyClock::time_point deadline{};
  bool finished = false;
  bool timed_out = false;
};

namespace {
constexpr std::string_view kInternalError = "TEMP internal error";

bool has_control_byte(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}
}  // namespace

AnswerKind answer_kind(std::string_view reply) {
  switch (reply.empty() ? 'T' : reply.front()) {
    case 'O': return AnswerKind::ok;
    case 'N': return AnswerKind::notfound;
    case 'P': return AnswerKind::perm;
    default: return AnswerKind::temp;
  }
}

SocketmapDoor::SocketmapDoor(PolicyLookup& lookup, AnswerOptions options, Limits limits)
    : lookup_(lookup), options_(options), limits_(limits) {
  if (limits_.read_chunk == 0) limits_.read_chunk = 4 * 1024;
}

void SocketmapDoor::log(LogLevel level, std::string_view text) const {
  if (!log_) return;
  try {
    log_(level, text);
  } catch (...) {  // a failing log sink must not take a connection down
  }
}

DoorStats SocketmapDoor::stats() const {
  DoorStats s;
  s.connections_open = open_.load();
  s.connections_total = total_.load();
  s.connections_refused = refused_.load();
  s.idle_closed = idle_closed_.load();
  s.requests = requests_.load();
  s.perm_replies = perm_.load();
  s.internal_errors = internal_errors_.load();
  return s;
}

bool SocketmapDoor::answer_now(std::string_view request, std::string& out, std::string_view& key) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  const auto space = request.find(' ');
  if (space == std::string_view::npos || space == 0 || space + 1 == request.size()) {
    perm_.fetch_add(1, std::memory_order_relaxed);
    out.assign("PERM malformed request: expected NAME KEY");
    return true;
  }
  key = request.substr(space + 1);
  if (has_control_byte(key)) {
    perm_.fetch_add(1, std::memory_order_relaxed);
    out.assign("PERM malformed request: control character in key");
    return true;
  }
  if (key.front() == '.') {
    // Postfix's parent-domain probe: after NOTFOUND for "a.example.org" smtp_tls_policy_maps asks
    // ".example.org", then ".org". tlsfence's policies are per exact next-hop domain (subdomain
    // rules are the lookup's business on the full name), so the probe never has an answer — and
    // must never get example.org's policy.
    out.assign("NOTFOUND ");
    return true;
  }
  try {
    if (auto hit = lookup_.find_cached(key)) {
      format_answer_into(out, *hit, options_);
      return true;
    }
  } catch (...) {  // lookup_answer() will tell
  }
  return false;
}

Task<void> SocketmapDoor::lookup_answer(std::string_view key, std::string& out) {
  std::string failure;
  try {
    const std::shared_ptr<const PolicyDecision> decision = co_await lookup_.decide_shared(std::string(key));
    format_answer_into(out, *decision, options_);
    co_return;
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  internal_errors_.fetch_add(1, std::memory_order_relaxed);
  log(LogLevel::error, "socketmap: lookup failed, answered TEMP: error=\"" + sanitize_reason(failure, 300) +
                           "\" key=\"" + sanitize_reason(key, 300) + "\"");
  out.assign(kInternalError);
}

Task<void> SocketmapDoor::serve(Socket socket) {
  total_.fetch_add(1, std::memory_order_relaxed);
  if (open_.load(std::memory_order_relaxed) >= limits_.max_connections) {
    const auto refused = refused_.fetch_add(1, std::memory_order_relaxed) + 1;
    const auto now = SteadyClock::now().time_since_epoch().count();
    auto last = last_refusal_log_.load(std::memory_order_relaxed);
    const auto second = std::chrono::duration_cast<SteadyClock::duration>(std::chrono::seconds(1)).count();
    if ((last == 0 || now - last >= second) &&
        last_refusal_log_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
      log(LogLevel::warning, "socketmap: connection refused: too many open connections limit=" +
                                 std::to_string(limits_.max_connections) +
                                 " refused_total=" + std::to_string(refused));
    }
    boost::system::error_code ignored;
    socket.close(ignored);
    co_return;
  }
  open_.fetch_add(1, std::memory_order_relaxed);
  struct OpenGuard {
    std::atomic<std::uint64_t>& open;
    ~OpenGuard() { open.fetch_sub(1, std::memory_order_relaxed); }
  } guard{open_};

  std::shared_ptr<Connection> c;
  try {
    c = std::make_shared<Connection>(std::move(socket), limits_.idle_timeout);
    c->socket.non_blocking(true);  // for the synchronous send fast path below
    const bool watch = limits_.idle_timeout.count() > 0;
    if (watch) {
      c->touch();
      arm_idle_timer(c);
    }
    parse::NetstringDecoder decoder(limits_.request_max);
    std::string out;    // framed replies waiting to be written (pipelined requests batch here)
    std::string reply;  // one reply's text, reused
    boost::system::error_code ec;
    bool open = true;
    while (open) {
      auto area = decoder.prepare(limits_.read_chunk);
      const std::size_t n = co_await c->socket.async_read_some(asio::buffer(area.data(), area.size()),
                                                               asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (c->timed_out) {
          idle_closed_.fetch_add(1, std::memory_order_relaxed);
          log(LogLevel::debug, "socketmap: idle timeout, connection closed");
        } else if (decoder.pending() > 0) {
          log(LogLevel::info, "socketmap: client closed the connection inside a request pending_bytes=" +
                                  std::to_string(decoder.pending()));
        }
        break;
      }
      decoder.commit(n);
      const SteadyClock::time_point read_at = SteadyClock::now();  // latency starts here
      if (watch) c->touch(read_at);
      auto counted = [this, read_at](std::string_view text) {
        answers_.inc(static_cast<std::size_t>(answer_kind(text)));
        latency_.observe(SteadyClock::now() - read_at);
      };
      for (;;) {
        const parse::NetstringResult r = decoder.next();
        if (r.status == parse::NetstringStatus::incomplete) break;
        if (r.status == parse::NetstringStatus::error) {
          perm_.fetch_add(1, std::memory_order_relaxed);
          if (r.error == parse::NetstringError::too_long) {
            reply.assign("PERM request too long");
          } else {
            reply.assign("PERM malformed netstring: ");
            reply.append(parse::to_string(r.error));
          }
          counted(reply);
          parse::append_netstring(out, reply);
          log(LogLevel::warning, std::string("socketmap: bad request, answered PERM and closed: error=\"") +
                                     std::string(parse::to_string(r.error)) + "\"");
          open = false;
          break;
        }
        std::string_view key;
        if (!answer_now(r.data, reply, key)) co_await lookup_answer(key, reply);
        if (reply.size() > options_.reply_max) {
          internal_errors_.fetch_add(1, std::memory_order_relaxed);
          reply.assign(kInternalError);
        }
        counted(reply);
        parse::append_netstring(out, reply);
        if (out.size() >= limits_.write_batch) {
          co_await asio::async_write(c->socket, asio::buffer(out),
                                     asio::redirect_error(asio::use_awaitable, ec));
          out.clear();
          if (ec) {
            open = false;
            break;
          }
          if (watch) c->touch();
        }
      }
      if (!out.empty() && !ec) {
        // Fast path: the reply usually fits the socket buffer at once; a non-blocking send
        // spares a trip through the scheduler. Whatever is left goes the asynchronous way.
        std::size_t sent = c->socket.write_some(asio::buffer(out), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) {
          ec = {};
          sent = 0;
        }
        if (!ec && sent < out.size()) {
          co_await asio::async_write(c->socket, asio::buffer(out.data() + sent, out.size() - sent),
                                     asio::redirect_error(asio::use_awaitable, ec));
          if (watch && !ec) c->touch();
        }
        out.clear();
        if (ec) break;
      }
    }
  } catch (const std::exception& e) {
    log(LogLevel::error,
        std::string("socketmap: connection failed: error=\"") + sanitize_reason(e.what(), 300) + "\"");
  } catch (...) {
    log(LogLevel::error, "socketmap: connection failed: unknown exception");
  }
  if (c) {
    c->finished = true;
    boost::system::error_code ignored;
    try {
      c->timer.cancel();
    } catch (...) {
    }
    c->socket.shutdown(asio::socket_base::shutdown_both, ignored);
    c->socket.close(ignored);
  }
}

}  // namespace tlsfence::socketmap
