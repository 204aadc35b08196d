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
// Failure: nothing escapes serve(). The counters live in a state the coroutines share, so a
// connection still open when the program stops (a scraper's keep-alive) may outlive the
// server object: the io_context destroys its coroutine later, which then touches only that
// state; the Endpoint must outlive every request being answered.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

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
      : state_(std::make_shared<State>(endpoint, limits)) {}
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  Task<void> serve(asio::generic::stream_protocol::socket socket) {
    return serve_on(state_, std::move(socket));
  }
  HttpStats stats() const;
  std::size_t open() const { return state_->open.load(std::memory_order_relaxed); }

 private:
  struct State {
    State(const Endpoint& e, HttpLimits l) : endpoint(e), limits(l) {}
    const Endpoint& endpoint;
    const HttpLimits limits;
    std::atomic<std::size_t> open{0};
    std::atomic<std::uint64_t> connections{0}, refused{0}, requests{0}, bad{0}, timeouts{0};
  };
  struct Connection;
  static Task<void> serve_on(std::shared_ptr<State> s, asio::generic::stream_protocol::socket socket);
  static Task<void> session(std::shared_ptr<State> s, std::shared_ptr<Connection> c);
  static Task<void> drain(std::shared_ptr<Connection> c);

  std::shared_ptr<State> state_;
};

}  // namespace tlsfence::metrics
