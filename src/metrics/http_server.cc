// The metrics HTTP server over Boost.Beast (see http_server.h for what it trusts).
#include "metrics/http_server.h"

#include <array>
#include <memory>
#include <string>

#include "util/idle_timer.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

// g++ 12 at -O2 reports a false -Wmismatched-new-delete inside Asio's coroutine frame
// allocator (thread_info_base.hpp).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace tlsfence::metrics {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using SteadyClock = std::chrono::steady_clock;

struct HttpServer::Connection {
  explicit Connection(asio::generic::stream_protocol::socket s)
      : socket(std::move(s)), timer(socket.get_executor()) {}
  asio::generic::stream_protocol::socket socket;
  asio::steady_timer timer;
  SteadyClock::time_point deadline = SteadyClock::time_point::max();
  bool finished = false;
  bool timed_out = false;
};

namespace {

template <class Body>
void common_headers(http::response<Body>& res, const HttpResponse& r, bool keep_alive) {
  res.set(http::field::server, "tlsfence");
  res.set(http::field::content_type, r.content_type);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(keep_alive);
}

}  // namespace

HttpStats HttpServer::stats() const {
  HttpStats s;
  s.connections = state_->connections.load(std::memory_order_relaxed);
  s.refused = state_->refused.load(std::memory_order_relaxed);
  s.requests = state_->requests.load(std::memory_order_relaxed);
  s.bad_requests = state_->bad.load(std::memory_order_relaxed);
  s.timeouts = state_->timeouts.load(std::memory_order_relaxed);
  return s;
}

// After a 400: close the sending side, then read and discard what the client still sends
// (at most 64 KiB, for at most a second) before closing, so the kernel does not answer the
// unread bytes with a reset that could destroy the 400 before the client reads it.
Task<void> HttpServer::drain(std::shared_ptr<Connection> c) {
  boost::system::error_code ec;
  c->socket.shutdown(asio::socket_base::shutdown_send, ec);
  c->deadline = SteadyClock::now() + std::chrono::seconds(1);
  std::array<char, 4096> scratch;
  std::size_t total = 0;
  while (!ec && total < 64 * 1024) {
    total += co_await c->socket.async_read_some(asio::buffer(scratch),
                                                asio::redirect_error(asio::use_awaitable, ec));
  }
}

Task<void> HttpServer::session(std::shared_ptr<State> s, std::shared_ptr<Connection> c) {
  beast::flat_buffer buffer(s->limits.header_max + 1024);
  boost::system::error_code ec;
  for (;;) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(s->limits.header_max));
    c->deadline = SteadyClock::now() + s->limits.request_timeout;
    co_await http::async_read(c->socket, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::end_of_stream || (ec && c->timed_out)) {
      if (c->timed_out) s->timeouts.fetch_add(1, std::memory_order_relaxed);
      co_return;
    }
    if (ec && (ec == asio::error::connection_reset || ec == asio::error::eof ||
               ec == asio::error::bad_descriptor || ec == asio::error::operation_aborted))
      co_return;
    s->requests.fetch_add(1, std::memory_order_relaxed);
    c->deadline = SteadyClock::now() + s->limits.write_timeout;
    if (ec) {
      s->bad.fetch_add(1, std::memory_order_relaxed);
      http::response<http::string_body> res{http::status::bad_request, 11};
      common_headers(res, HttpResponse{400, "text/plain; charset=utf-8", {}}, false);
      res.body() = "bad request: " + ec.message() + "\n";
      res.prepare_payload();
      co_await http::async_write(c->socket, res, asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) co_await drain(c);
      co_return;
    }
    const auto& req = parser.get();
    const bool head = req.method() == http::verb::head;
    const bool keep_alive = req.keep_alive();
    const std::string method(req.method_string());
    const std::string target(req.target());
    const HttpResponse r = s->endpoint.handle(method, target);
    const auto status = static_cast<http::status>(r.status);
    if (head) {
      http::response<http::empty_body> res{status, req.version()};
      common_headers(res, r, keep_alive);
      res.content_length(r.body.size());
      http::response_serializer<http::empty_body> sr{res};
      sr.split(true);
      co_await http::async_write_header(c->socket, sr, asio::redirect_error(asio::use_awaitable, ec));
    } else {
      http::response<http::string_body> res{status, req.version()};
      common_headers(res, r, keep_alive);
      res.body() = r.body;
      res.prepare_payload();
      co_await http::async_write(c->socket, res, asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec || !keep_alive) co_return;
  }
}

Task<void> HttpServer::serve_on(std::shared_ptr<State> s, asio::generic::stream_protocol::socket socket) {
  s->connections.fetch_add(1, std::memory_order_relaxed);
  if (s->open.load(std::memory_order_relaxed) >= s->limits.max_connections) {
    s->refused.fetch_add(1, std::memory_order_relaxed);
    boost::system::error_code ignored;
    socket.close(ignored);
    co_return;
  }
  s->open.fetch_add(1, std::memory_order_relaxed);
  struct OpenGuard {
    std::atomic<std::size_t>& open;
    ~OpenGuard() { open.fetch_sub(1, std::memory_order_relaxed); }
  } guard{s->open};
  std::shared_ptr<Connection> c;
  try {
    c = std::make_shared<Connection>(std::move(socket));
    c->deadline = SteadyClock::now() + s->limits.request_timeout;
    arm_idle_timer(c);
    co_await session(s, c);
  } catch (...) {  // a failing connection never takes the listener down
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

}  // namespace tlsfence::metrics
