#pragma once
// The metrics listener's HTTP/1.1 server (Boost.Beast, kept in http_server.cc so no other
// translation unit pays for compiling Beast). One coroutine per accepted connection on the
// socket's executor (the program's io_context): it reads a request, asks the Endpoint, writes
// the answer, and keeps the connection for the next request when the client asks to.
//
// Trust: anyone who can reach the listen address. Only GET and HEAD are answered (HEAD: the
// headers of GET's answer). A request whose header exceeds Limits::header_max, that carries a
// body (Content-Length > 0 or chunked), or that does not parse as HTTP/1.x gets 400 and the
// connection is closed. A request must arrive whole within Limits::request_timeout of the
// moment the server starts waiting for it (an idle keep-alive connection included), an answer
// must be taken within Limits::write_timeout: otherwise the connection is closed, so slow
// clients cannot hold it. Beyond Limits::max_connections open connections a new one is closed
// at once. The doors never wait for this server: it only reads counters.
//
// Failure: nothing escapes serve(); the server must outlive the coroutines it started.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "async/asio.h"
#include "metrics/endpoint.h"

#include <boost/asio/generic/stream_protocol.hpp>

namespace tlsfence::metrics {

struct HttpLimits {
  std::size_t header_max = 8 * 1024;
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds write_timeout{10'000};
  std::size_t max_connections = 32;
};

struct HttpStats {
  std::uint64_t connections = 0;
  std::uint64_t refused = 0;  // over max_connections
  std::uint64_t requests = 0;
  std::uint64_t bad_requests = 0;  // answered 400
  std::uint64_t timeouts = 0;
};

class HttpServer {
 public:
  explicit HttpServer(const Endpoint& endpoint, HttpLimits limits = {})
      : endpoint_(endpoint), limits_(limits) {}
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  Task<void> serve(asio::generic::stream_protocol::socket socket);
  HttpStats stats() const;
  std::size_t open() const { return open_.load(std::memory_order_relaxed); }

 private:
  struct Connection;
  Task<void> session(std::shared_ptr<Connection> c);
  static Task<void> drain(std::shared_ptr<Connection> c);

  const Endpoint& endpoint_;
  HttpLimits limits_;
  std::atomic<std::size_t> open_{0};
  std::atomic<std::uint64_t> connections_{0}, refused_{0}, requests_{0}, bad_{0}, timeouts_{0};
};

}  // namespace tlsfence::metrics
