#pragma once
// The socketmap front door (Postfix smtp_tls_policy_maps = socketmap:…, Sendmail FEATURE(`sts')):
// one coroutine per accepted connection decodes netstring requests `NAME KEY`, asks the
// PolicyLookup once per request and answers with format_answer() text, in request order, even when
// the client pipelines. No DNS, HTTP or SQL here.
//
// Trust: the peer is the local MTA, but every byte is checked: a request netstring longer than
// Limits::request_max gets "PERM request too long" and the connection is closed (the data is never
// buffered); a framing error gets "PERM malformed netstring: …" and a close (the stream cannot be
// resynchronised); a well-framed request without "NAME KEY" shape, or with a control byte in the
// key, gets "PERM malformed request: …" and the connection stays open. Keys with non-ASCII bytes
// (SMTPUTF8 U-labels) go to the lookup unchanged; the lookup normalises them and answers "no
// policy" (NOTFOUND) for anything that is not a usable domain. A key starting with '.' is
// Postfix's parent-domain probe (smtp_tls_policy_maps retries ".example.org" after NOTFOUND for
// "a.example.org"): answered NOTFOUND here without a lookup, so a parent's policy is never applied
// to a subdomain.
//
// Failure: an exception from the lookup or the formatting is caught here and answered
// "TEMP internal error" (logged); the connection keeps going. Nothing escapes serve().
// Connections idle (no byte read or written) for Limits::idle_timeout are closed; beyond
// Limits::max_connections open connections a new one is closed at once (logged, rate-limited).
//
// Wiring (src/app): accept into a generic socket so unix: and inet: listeners share one type:
//   using Generic = asio::generic::stream_protocol;
//   asio::basic_socket_acceptor<Generic> acceptor(ctx, Generic::endpoint(
//       asio::local::stream_protocol::endpoint(path)));          // or an asio::ip::tcp::endpoint
//   auto s = co_await acceptor.async_accept(asio::use_awaitable);
//   asio::co_spawn(acceptor.get_executor(), door.serve(std::move(s)), asio::detached);
// (tests/unit/socketmap/server_test.cc and tests/bench/socketmap/bench_door.cc do exactly this.)
// Each open connection holds one descriptor: RLIMIT_NOFILE must exceed max_connections.
//
// Threads: serve() runs on the socket's executor; its timer uses the same executor, so a
// single-threaded io_context (or a strand as the socket's executor) is all it needs. The door must
// outlive every serve() coroutine it started.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "async/asio.h"
#include "doors/socketmap/answer.h"
#include "metrics/metric.h"
#include "policy/lookup.h"
#include "tlsfence/config.h"
#include "tlsfence/limits.h"

#include <boost/asio/generic/stream_protocol.hpp>

namespace tlsfence::socketmap {

struct Limits {
  std::size_t request_max = limits::socketmap_request_max;  // bytes of request data
  std::chrono::milliseconds idle_timeout{300'000};          // like Postfix's ipc_idle; 0 = none
  std::size_t max_connections = 4'096;                      // open at once (per door)
  std::size_t read_chunk = 4 * 1024;    // bytes asked of each read (and buffer per idle connection)
  std::size_t write_batch = 64 * 1024;  // flush pipelined replies at this size
};

struct DoorStats {
  std::uint64_t connections_open = 0;
  std::uint64_t connections_total = 0;    // accepted into serve(), refused ones included
  std::uint64_t connections_refused = 0;  // over max_connections
  std::uint64_t idle_closed = 0;
  std::uint64_t requests = 0;
  std::uint64_t perm_replies = 0;
  std::uint64_t internal_errors = 0;  // answered "TEMP internal error"
};

// The kinds of answer, for the answer counters (tlsfence_socketmap_requests_total{answer}).
enum class AnswerKind : std::size_t { ok, notfound, temp, perm };
inline constexpr std::size_t kAnswerKinds = 4;
AnswerKind answer_kind(std::string_view reply);

// Log sink: one line per event, stable text with key=value fields. Default: discard.
using DoorLog = std::function<void(LogLevel, std::string_view)>;

class SocketmapDoor {
 public:
  SocketmapDoor(PolicyLookup& lookup, AnswerOptions options, Limits limits = {});
  SocketmapDoor(const SocketmapDoor&) = delete;
  SocketmapDoor& operator=(const SocketmapDoor&) = delete;

  void set_log(DoorLog log) { log_ = std::move(log); }
  // Replaces the answer options (a SIGHUP reload). Call on the door's executor thread: the
  // next answer formatted uses them.
  void set_options(AnswerOptions options) { options_ = options; }

  // Serves one accepted connection until the peer closes, an error, or the idle timeout.
  // Never throws. Typical use: co_spawn(ex, door.serve(std::move(socket)), asio::detached).
  Task<void> serve(asio::generic::stream_protocol::socket socket);

  DoorStats stats() const;
  const Limits& limits() const { return limits_; }
  // Answers by kind (index: AnswerKind) and the time from reading a request to its answer.
  const metrics::CounterArray<kAnswerKinds>& answers() const { return answers_; }
  metrics::HistogramSnapshot latency() const { return latency_.snapshot(); }

 private:
  struct Connection;
  // The answer text (no framing) for one request into `answer` when it needs no waiting
  // (malformed request, parent-domain probe, fresh cache hit): true. Otherwise false with
  // `key` set, and lookup_answer(key) gives it.
  bool answer_now(std::string_view request, std::string& answer, std::string_view& key);
  Task<void> lookup_answer(std::string_view key, std::string& answer);
  void log(LogLevel level, std::string_view text) const;

  PolicyLookup& lookup_;
  AnswerOptions options_;
  Limits limits_;
  DoorLog log_;
  std::atomic<std::chrono::steady_clock::rep> last_refusal_log_{0};  // time_since_epoch ticks

  std::atomic<std::uint64_t> open_{0};
  std::atomic<std::uint64_t> total_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<std::uint64_t> idle_closed_{0};
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> perm_{0};
  std::atomic<std::uint64_t> internal_errors_{0};
  metrics::CounterArray<kAnswerKinds> answers_;
  metrics::LatencyHistogram latency_;
};

}  // namespace tlsfence::socketmap
