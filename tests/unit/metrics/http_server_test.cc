// The metrics HTTP server over a real unix socket: an io_context thread accepts and runs
// HttpServer::serve; the tests talk plain HTTP/1.1 through blocking sockets. Checked: answers
// and keep-alive, HEAD, 404, 400-and-close for oversized / body-carrying / malformed
// requests, slow clients timed out without stalling others, the connection bound.
#include "metrics/http_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>

#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace tlsfence::metrics {
namespace {

using namespace std::chrono_literals;
using Generic = asio::generic::stream_protocol;

class Harness {
 public:
  explicit Harness(HttpLimits limits)
      : endpoint_(registry_, [this] { return problems_; }), server_(endpoint_, limits) {
    registry_.add([](Writer& w) {
      w.family("tlsfence_test_total", Type::counter, "A test counter.");
      w.sample(std::uint64_t{42});
    });
    path_ =
        (std::filesystem::temp_directory_path() / ("tlsfence-http-" + std::to_string(::getpid()) + ".sock"))
            .string();
    std::filesystem::remove(path_);
    acceptor_.emplace(io_, Generic::endpoint(asio::local::stream_protocol::endpoint(path_)));
    asio::co_spawn(io_, accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Harness() {
    asio::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_->close(ec);
      io_.stop();
    });
    thread_.join();
    std::filesystem::remove(path_);
  }

  int connect() const {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path_.c_str());
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  }
  std::vector<std::string> problems_;
  HttpServer& server() { return server_; }

 private:
  Task<void> accept() {
    for (;;) {
      boost::system::error_code ec;
      Generic::socket s = co_await acceptor_->async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(io_, server_.serve(std::move(s)), asio::detached);
    }
  }

  asio::io_context io_;
  Registry registry_;
  Endpoint endpoint_;
  HttpServer server_;
  std::string path_;
  std::optional<asio::basic_socket_acceptor<Generic>> acceptor_;
  std::thread thread_;
};

void send_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

// One response (headers + Content-Length body; `head`: no body), or "" on close/timeout.
std::string read_response(int fd, bool head = false) {
  std::string data;
  char buf[4096];
  std::size_t need = std::string::npos;
  for (;;) {
    const auto end = data.find("\r\n\r\n");
    if (end != std::string::npos && need == std::string::npos) {
      std::size_t length = 0;
      const auto cl = data.find("Content-Length: ");
      if (cl != std::string::npos && cl < end) length = std::stoul(data.substr(cl + 16));
      need = end + 4 + (head ? 0 : length);
    }
    if (need != std::string::npos && data.size() >= need) return data.substr(0, need);
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return data;
    data.append(buf, static_cast<std::size_t>(n));
  }
}

// True when the server closed the connection (EOF) within the socket's receive timeout.
bool closed_by_server(int fd) {
  char c;
  return ::recv(fd, &c, 1, 0) == 0;
}

TEST(MetricsHttpServer, GetMetricsThenHealthzOnOneKeptAliveConnection) {
  Harness h({});
  const int fd = h.connect();
  send_all(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string r = read_response(fd);
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("\r\n\r\n# HELP tlsfence_test_total A test counter.\n"), std::string::npos) << r;
  EXPECT_NE(r.find("tlsfence_test_total 42\n"), std::string::npos);
  send_all(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  r = read_response(fd);
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_EQ(r.substr(r.size() - 5), "\r\nok\n");
  h.problems_ = {"door socketmap not listening"};
  send_all(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  r = read_response(fd);
  EXPECT_EQ(r.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("unhealthy: door socketmap not listening\n"), std::string::npos);
  ::close(fd);
}

TEST(MetricsHttpServer, HeadSendsHeadersOnlyAnd404ForOtherPaths) {
  Harness h({});
  const int fd = h.connect();
  send_all(fd, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string r = read_response(fd, /*head=*/true);
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Length: "), std::string::npos);
  send_all(fd, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");  // nothing of HEAD's body came first
  r = read_response(fd);
  EXPECT_EQ(r.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u) << r;
  ::close(fd);
  // HTTP/1.0 without keep-alive: answered, then closed.
  const int fd2 = h.connect();
  send_all(fd2, "GET /healthz HTTP/1.0\r\n\r\n");
  r = read_response(fd2);
  EXPECT_EQ(r.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << r;
  EXPECT_TRUE(closed_by_server(fd2));
  ::close(fd2);
}

TEST(MetricsHttpServer, OversizedHeaderBodyOrGarbageIs400AndClosed) {
  Harness h({});
  const std::string big(9 * 1024, 'a');
  for (const std::string& request :
       {"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n",
        std::string("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"),
        std::string(
            "GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
        std::string("HELLO THERE\r\n\r\n"), std::string("GET /metrics HTTP/9.9\r\n\r\n")}) {
    const int fd = h.connect();
    send_all(fd, request);
    const std::string r = read_response(fd);
    EXPECT_EQ(r.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << request.substr(0, 40) << " -> " << r;
    EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos) << r;
    EXPECT_TRUE(closed_by_server(fd));
    ::close(fd);
  }
  EXPECT_EQ(h.server().stats().bad_requests, 5u);
  const int fd = h.connect();  // still answering
  send_all(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(read_response(fd).rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  ::close(fd);
}

TEST(MetricsHttpServer, SlowClientIsTimedOutWhileOthersAreServed) {
  HttpLimits limits;
  limits.request_timeout = 300ms;
  Harness h(limits);
  const int slow = h.connect();
  send_all(slow, "GET /metr");  // never finishes its request
  const int other = h.connect();
  send_all(other, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(read_response(other).rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(closed_by_server(slow));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  for (int i = 0; i < 100 && h.server().stats().timeouts == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_GE(h.server().stats().timeouts, 1u);  // (the other one too, once idle that long)
  ::close(slow);
  ::close(other);
}

TEST(MetricsHttpServer, ConnectionsBeyondTheBoundAreClosedAtOnce) {
  HttpLimits limits;
  limits.max_connections = 2;
  Harness h(limits);
  const int a = h.connect();
  const int b = h.connect();
  send_all(a, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");  // both are being served
  EXPECT_FALSE(read_response(a).empty());
  send_all(b, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_FALSE(read_response(b).empty());
  const int c = h.connect();
  EXPECT_TRUE(closed_by_server(c));
  EXPECT_EQ(h.server().stats().refused, 1u);
  ::close(c);
  ::close(a);
  std::this_thread::sleep_for(100ms);  // the server notices a's close
  const int d = h.connect();
  send_all(d, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(read_response(d).rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  ::close(b);
  ::close(d);
}

}  // namespace
}  // namespace tlsfence::metrics
