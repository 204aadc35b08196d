// The socketmap door end to end over a real unix socket: an io_context thread runs an acceptor and
// SocketmapDoor with a FakeLookup; the test talks to it with plain blocking sockets.
#include "doors/socketmap/server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "async/asio.h"
#include "parse/netstring.h"

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>

namespace tlsfence::socketmap {
namespace {

using namespace std::chrono_literals;
using parse::encode_netstring;

// domain → decision, with an optional delay per domain; "throw.example" throws.
class FakeLookup final : public PolicyLookup {
 public:
  struct Entry {
    PolicyDecision decision;
    std::chrono::milliseconds delay{0};
  };
  std::map<std::string, Entry> table;
  std::mutex mu;
  std::vector<std::string> keys_seen;
  std::map<std::string, PolicyDecision> cached;  // what find_cached() answers without waiting
  int cached_hits = 0;

  std::shared_ptr<const PolicyDecision> find_cached(std::string_view next_hop) override {
    std::lock_guard lock(mu);
    auto it = cached.find(std::string(next_hop));
    if (it == cached.end()) return nullptr;
    ++cached_hits;
    return std::make_shared<const PolicyDecision>(it->second);
  }

  Task<PolicyDecision> decide(std::string next_hop) override {
    {
      std::lock_guard lock(mu);
      keys_seen.push_back(next_hop);
    }
    if (next_hop == "throw.example") throw std::runtime_error("simulated failure\nwith a newline");
    auto it = table.find(next_hop);
    if (it == table.end()) {
      PolicyDecision none;
      none.domain = next_hop;
      co_return none;
    }
    if (it->second.delay.count() > 0) {
      asio::steady_timer t(co_await asio::this_coro::executor);
      t.expires_after(it->second.delay);
      co_await t.async_wait(asio::use_awaitable);
    }
    co_return it->second.decision;
  }
};

PolicyDecision policy(std::string domain, std::string level, Source source = Source::dane) {
  PolicyDecision d;
  d.domain = std::move(domain);
  d.verdict = Verdict::policy;
  d.source = source;
  d.level = std::move(level);
  return d;
}

// A blocking client with a receive timeout.
class Client {
 public:
  explicit Client(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~Client() { close(); }
  Client(Client&& o) noexcept : fd_(o.fd_), buf_(std::move(o.buf_)) { o.fd_ = -1; }
  bool ok() const { return fd_ >= 0; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool send(const std::string& bytes) {
    std::size_t at = 0;
    while (at < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n <= 0) return false;
      at += static_cast<std::size_t>(n);
    }
    return true;
  }
  // Next reply netstring; "<eof>" when the server closed, "<timeout>", "<bad>" on a framing error.
  std::string reply(std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto r = parse::decode_netstring(buf_, 200'000);
      if (r.status == parse::NetstringStatus::complete) {
        std::string data(r.data);
        buf_.erase(0, r.consumed);
        return data;
      }
      if (r.status == parse::NetstringStatus::error) return "<bad>";
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "<timeout>";
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return "<timeout>";
      char tmp[65536];
      const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return "<eof>";
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
  }
  std::string ask(const std::string& request) {
    if (!send(encode_netstring(request))) return "<send failed>";
    return reply();
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

class DoorTest : public ::testing::Test {
 protected:
  void start(Limits limits = {}, AnswerOptions options = {}) {
    dir_ = std::filesystem::temp_directory_path() /
           ("tlsfence-socketmap-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "socketmap.sock").string();
    door_ = std::make_unique<SocketmapDoor>(lookup_, options, limits);
    door_->set_log([this](LogLevel, std::string_view line) {
      std::lock_guard lock(log_mu_);
      log_.emplace_back(line);
    });
    ctx_ = std::make_unique<asio::io_context>(1);
    using Generic = asio::generic::stream_protocol;
    acceptor_ = std::make_unique<asio::basic_socket_acceptor<Generic>>(
        *ctx_, Generic::endpoint(asio::local::stream_protocol::endpoint(path_)));
    acceptor_->listen(4096);
    asio::co_spawn(*ctx_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ctx_->run(); });
  }

  Task<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      auto socket = co_await acceptor_->async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(acceptor_->get_executor(), door_->serve(std::move(socket)), asio::detached);
    }
  }

  void TearDown() override {
    if (ctx_) {
      ctx_->stop();
      thread_.join();
      acceptor_.reset();
      ctx_.reset();  // destroys suspended serve() coroutines while the door still exists
    }
    door_.reset();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  Client client() { return Client(path_); }

  bool logged(std::string_view needle) {
    std::lock_guard lock(log_mu_);
    for (const auto& l : log_)
      if (l.find(needle) != std::string::npos) return true;
    return false;
  }

  // Waits until the door has `n` open connections (the acceptor runs asynchronously).
  bool wait_open(std::uint64_t n, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (door_->stats().connections_open == n) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

  FakeLookup lookup_;
  std::unique_ptr<SocketmapDoor> door_;
  std::unique_ptr<asio::io_context> ctx_;
  std::unique_ptr<asio::basic_socket_acceptor<asio::generic::stream_protocol>> acceptor_;
  std::thread thread_;
  std::filesystem::path dir_;
  std::string path_;
  std::mutex log_mu_;
  std::vector<std::string> log_;
  static inline int counter_ = 0;

  void SetUp() override {
    lookup_.table["dane-only.example"] = {policy("dane-only.example", "dane-only")};
    lookup_.table["dane.example"] = {policy("dane.example", "dane")};
    PolicyDecision sts =
        policy("sts.example", "secure match=mx.sts.example:.backup.sts.example servername=hostname",
               Source::mta_sts);
    sts.sts = StsPolicy{StsPolicy::Mode::enforce,
                        {"mx.sts.example", "*.backup.sts.example"},
                        86400,
                        "1",
                        {"version: STSv1", "mode: enforce", "mx: mx.sts.example", "mx: *.backup.sts.example",
                         "max_age: 86400"}};
    lookup_.table["sts.example"] = {sts};
    PolicyDecision testing;
    testing.domain = "testing.example";
    testing.source = Source::mta_sts;
    testing.sts = StsPolicy{StsPolicy::Mode::testing,
                            {"mx.testing.example"},
                            86400,
                            "1",
                            {"version: STSv1", "mode: testing", "mx: mx.testing.example", "max_age: 86400"}};
    lookup_.table["testing.example"] = {testing};
    lookup_.table["override.example"] = {policy("override.example", "encrypt", Source::override_rule)};
    PolicyDecision temp;
    temp.domain = "bogus.example";
    temp.verdict = Verdict::temp_fail;
    temp.temp_reason = "DNSSEC validation of bogus.example MX failed: signature expired";
    lookup_.table["bogus.example"] = {temp};
    lookup_.table["slow.example"] = {policy("slow.example", "dane-only"), 300ms};
    lookup_.table
        ["b\xc3\xbc"
         "cher.example"] = {policy("xn--bcher-kva.example", "dane")};
  }
};

TEST_F(DoorTest, AnswersEveryKind) {
  start();
  Client c = client();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.ask("tlspolicy dane-only.example"), "OK dane-only");
  EXPECT_EQ(c.ask("tlspolicy dane.example"), "OK dane");
  EXPECT_EQ(c.ask("tlspolicy sts.example"),
            "OK secure match=mx.sts.example:.backup.sts.example servername=hostname");
  EXPECT_EQ(c.ask("tlspolicy override.example"), "OK encrypt");
  EXPECT_EQ(c.ask("tlspolicy testing.example"), "NOTFOUND ");
  EXPECT_EQ(c.ask("tlspolicy nothing.example"), "NOTFOUND ");
  EXPECT_EQ(c.ask("sts bogus.example"),
            "TEMP DNSSEC validation of bogus.example MX failed: signature expired");
  EXPECT_EQ(c.ask("tlspolicy"), "PERM malformed request: expected NAME KEY");
  EXPECT_EQ(c.ask("tlspolicy "), "PERM malformed request: expected NAME KEY");
  EXPECT_EQ(c.ask(" dane.example"), "PERM malformed request: expected NAME KEY");
  EXPECT_EQ(c.ask(""), "PERM malformed request: expected NAME KEY");
  // The connection is still fine after PERM for a malformed (but well-framed) request.
  EXPECT_EQ(c.ask("tlspolicy dane.example"), "OK dane");
  EXPECT_EQ(lookup_.keys_seen.back(), "dane.example");
  // Every answer counted by kind (tlsfence_socketmap_requests_total) and timed once.
  EXPECT_EQ(door_->answers().value(static_cast<std::size_t>(AnswerKind::ok)), 5u);
  EXPECT_EQ(door_->answers().value(static_cast<std::size_t>(AnswerKind::notfound)), 2u);
  EXPECT_EQ(door_->answers().value(static_cast<std::size_t>(AnswerKind::temp)), 1u);
  EXPECT_EQ(door_->answers().value(static_cast<std::size_t>(AnswerKind::perm)), 4u);
  EXPECT_EQ(door_->latency().count, 12u);
}

TEST_F(DoorTest, OptionsReachTheAnswer) {
  AnswerOptions o;
  o.enforce_testing = true;
  o.tlsrpt_attributes = true;
  start({}, o);
  Client c = client();
  EXPECT_EQ(
      c.ask("tlspolicy testing.example"),
      "OK secure match=mx.testing.example servername=hostname policy_type=sts policy_domain=testing.example "
      "mx_host_pattern=mx.testing.example { policy_string = version: STSv1 } { policy_string = mode: testing "
      "} "
      "{ policy_string = mx: mx.testing.example } { policy_string = max_age: 86400 }");
  EXPECT_EQ(c.ask("tlspolicy dane.example"), "OK dane");
}

TEST_F(DoorTest, PipelinedRequestsAnsweredInOrder) {
  start();
  Client c = client();
  // The slow lookup comes first: its reply must still come first.
  ASSERT_TRUE(c.send(encode_netstring("tlspolicy slow.example") + encode_netstring("tlspolicy dane.example") +
                     encode_netstring("tlspolicy nothing.example") + encode_netstring("bad")));
  EXPECT_EQ(c.reply(), "OK dane-only");
  EXPECT_EQ(c.reply(), "OK dane");
  EXPECT_EQ(c.reply(), "NOTFOUND ");
  EXPECT_EQ(c.reply(), "PERM malformed request: expected NAME KEY");

  // A thousand in one write, every reply in order.
  std::string burst;
  const std::vector<std::string> keys = {"dane-only.example", "dane.example", "nothing.example",
                                         "override.example"};
  const std::vector<std::string> want = {"OK dane-only", "OK dane", "NOTFOUND ", "OK encrypt"};
  for (int i = 0; i < 1000; ++i) burst += encode_netstring("tlspolicy " + keys[i % 4]);
  ASSERT_TRUE(c.send(burst));
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(c.reply(), want[i % 4]) << "reply " << i;
}

TEST_F(DoorTest, LongPipelineIsFlushedInBatchesAndStaysInOrder) {
  start();
  Client c = client();
  // 20,000 requests (~500 KB) sent from another thread while this one reads: replies leave in
  // write batches, never all buffered, and keep their order.
  std::string burst;
  for (int i = 0; i < 20'000; ++i)
    burst += encode_netstring(i % 2 ? "tlspolicy dane.example" : "tlspolicy nothing.example");
  std::thread sender([&] { c.send(burst); });
  int in_order = 0;
  for (int i = 0; i < 20'000; ++i) {
    if (c.reply() != (i % 2 ? "OK dane" : "NOTFOUND ")) break;
    ++in_order;
  }
  sender.join();
  EXPECT_EQ(in_order, 20'000);
  EXPECT_EQ(door_->stats().requests, 20'000u);
}

// The door answers a fresh cache hit without waiting (find_cached), and a pipeline mixing hits
// with a slow lookup still gets its replies in request order.
TEST_F(DoorTest, CachedAnswersWithoutALookupAndInOrder) {
  start();
  lookup_.cached["hot.example"] = policy("hot.example", "secure match=.hot.example servername=hostname");
  Client c = client();
  ASSERT_TRUE(c.send(encode_netstring("tlspolicy slow.example") + encode_netstring("tlspolicy hot.example") +
                     encode_netstring("tlspolicy dane.example") + encode_netstring("tlspolicy hot.example")));
  EXPECT_EQ(c.reply(), "OK dane-only");
  EXPECT_EQ(c.reply(), "OK secure match=.hot.example servername=hostname");
  EXPECT_EQ(c.reply(), "OK dane");
  EXPECT_EQ(c.reply(), "OK secure match=.hot.example servername=hostname");
  std::lock_guard lock(lookup_.mu);
  EXPECT_EQ(lookup_.cached_hits, 2);
  for (const auto& k : lookup_.keys_seen) EXPECT_NE(k, "hot.example");  // never went to decide()
}

TEST_F(DoorTest, RequestSplitAcrossManyWrites) {
  start();
  Client c = client();
  const std::string req = encode_netstring("tlspolicy dane-only.example");
  for (char ch : req) {
    ASSERT_TRUE(c.send(std::string(1, ch)));
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(c.reply(), "OK dane-only");
}

TEST_F(DoorTest, GarbageGetsPermThenClose) {
  start();
  Client c = client();
  ASSERT_TRUE(c.send("GET / HTTP/1.0\r\n\r\n"));
  EXPECT_EQ(c.reply(), "PERM malformed netstring: non-digit in netstring length");
  EXPECT_EQ(c.reply(), "<eof>");

  Client d = client();
  ASSERT_TRUE(d.send("5:hello;"));
  EXPECT_EQ(d.reply(), "PERM malformed netstring: netstring not terminated by ','");
  EXPECT_EQ(d.reply(), "<eof>");

  // Replies to earlier good requests of the same batch still go out first, in order.
  Client e = client();
  ASSERT_TRUE(e.send(encode_netstring("tlspolicy dane.example") + ":x,"));
  EXPECT_EQ(e.reply(), "OK dane");
  EXPECT_EQ(e.reply(), "PERM malformed netstring: empty netstring length");
  EXPECT_EQ(e.reply(), "<eof>");
  EXPECT_TRUE(logged("answered PERM and closed"));
}

TEST_F(DoorTest, TruncatedRequestThenCloseLeavesTheDoorSane) {
  start();
  {
    Client c = client();
    ASSERT_TRUE(c.send("27:tlspolicy dane-only.exa"));
  }  // closes mid-netstring
  {
    Client c = client();
    ASSERT_TRUE(c.send("27"));
  }
  ASSERT_TRUE(wait_open(0));
  Client ok = client();
  EXPECT_EQ(ok.ask("tlspolicy dane-only.example"), "OK dane-only");
  EXPECT_TRUE(logged("inside a request"));
}

TEST_F(DoorTest, OversizedRequestGetsPermThenClose) {
  start();
  Client c = client();
  // 20,000 bytes announced and sent: refused from the length alone.
  ASSERT_TRUE(c.send("20000:tlspolicy " + std::string(20000 - 10, 'a') + ","));
  EXPECT_EQ(c.reply(), "PERM request too long");
  EXPECT_EQ(c.reply(), "<eof>");

  // At the limit (10,000 bytes of data) is answered; one past is refused.
  Client at = client();
  const std::string key_at(limits::socketmap_request_max - 10, 'k');
  EXPECT_EQ(at.ask("tlspolicy " + key_at), "NOTFOUND ");
  Client past = client();
  EXPECT_EQ(past.ask("tlspolicy " + key_at + "k"), "PERM request too long");
  EXPECT_EQ(past.reply(), "<eof>");
}

TEST_F(DoorTest, NonAsciiKeys) {
  start();
  Client c = client();
  // A U-label goes to the lookup byte for byte (the lookup normalises it).
  EXPECT_EQ(c.ask("tlspolicy b\xc3\xbc"
                  "cher.example"),
            "OK dane");
  EXPECT_EQ(lookup_.keys_seen.back(),
            "b\xc3\xbc"
            "cher.example");
  // Invalid UTF-8 also goes to the lookup, which finds no policy for it.
  EXPECT_EQ(c.ask("tlspolicy \xff\xfe.example"), "NOTFOUND ");
  // Control bytes (NUL, CR, LF, DEL) are a malformed request; the connection stays usable.
  EXPECT_EQ(c.ask(std::string("tlspolicy dane.example\0x", 24)),
            "PERM malformed request: control character in key");
  EXPECT_EQ(c.ask("tlspolicy dane.example\r\n"), "PERM malformed request: control character in key");
  EXPECT_EQ(c.ask("tlspolicy dane.example"), "OK dane");
}

TEST_F(DoorTest, ParentDomainProbeIsNotFoundWithoutLookup) {
  start();
  Client c = client();
  EXPECT_EQ(c.ask("tlspolicy .dane.example"), "NOTFOUND ");
  EXPECT_EQ(c.ask("tlspolicy .example"), "NOTFOUND ");
  {
    std::lock_guard lock(lookup_.mu);
    EXPECT_TRUE(lookup_.keys_seen.empty());
  }
  EXPECT_EQ(c.ask("tlspolicy dane.example"), "OK dane");
}

TEST_F(DoorTest, LookupExceptionIsTempAndConnectionContinues) {
  start();
  Client c = client();
  EXPECT_EQ(c.ask("tlspolicy throw.example"), "TEMP internal error");
  EXPECT_EQ(c.ask("tlspolicy dane.example"), "OK dane");
  EXPECT_EQ(door_->stats().internal_errors, 1u);
  EXPECT_TRUE(logged("simulated failure with a newline"));
}

TEST_F(DoorTest, ThousandsOfIdleConnections) {
  Limits limits;
  limits.max_connections = 2'100;
  start(limits);
  std::vector<Client> idle;
  idle.reserve(2'000);
  for (int i = 0; i < 2'000; ++i) {
    idle.push_back(client());
    ASSERT_TRUE(idle.back().ok()) << i;
  }
  ASSERT_TRUE(wait_open(2'000));
  Client c = client();
  EXPECT_EQ(c.ask("tlspolicy dane-only.example"), "OK dane-only");
  // A few of the idle ones still work too.
  EXPECT_EQ(idle.front().ask("tlspolicy dane.example"), "OK dane");
  EXPECT_EQ(idle.back().ask("tlspolicy dane.example"), "OK dane");
}

TEST_F(DoorTest, ConnectionCapEnforced) {
  Limits limits;
  limits.max_connections = 10;
  start(limits);
  std::vector<Client> held;
  for (int i = 0; i < 10; ++i) {
    held.push_back(client());
    ASSERT_EQ(held.back().ask("tlspolicy dane.example"), "OK dane");
  }
  Client over = client();
  ASSERT_TRUE(over.ok());  // the kernel accepts; the door closes it at once
  over.send(encode_netstring("tlspolicy dane.example"));
  EXPECT_EQ(over.reply(), "<eof>");
  EXPECT_EQ(door_->stats().connections_refused, 1u);
  EXPECT_TRUE(logged("too many open connections limit=10"));
  // Room again after one leaves.
  held.pop_back();
  ASSERT_TRUE(wait_open(9));
  Client again = client();
  EXPECT_EQ(again.ask("tlspolicy dane.example"), "OK dane");
}

TEST_F(DoorTest, IdleTimeoutCloses) {
  Limits limits;
  limits.idle_timeout = 200ms;
  start(limits);
  Client idle = client();
  Client busy = client();
  ASSERT_EQ(idle.ask("tlspolicy dane.example"), "OK dane");
  // The busy one keeps talking every 50 ms, for longer than the timeout: it stays open.
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(busy.ask("tlspolicy dane.example"), "OK dane") << i;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(idle.reply(2s), "<eof>");
  EXPECT_EQ(door_->stats().idle_closed, 1u);
  EXPECT_EQ(busy.ask("tlspolicy dane.example"), "OK dane");
}

TEST_F(DoorTest, OtherConnectionsUnaffectedByABadOne) {
  start();
  Client good = client();
  Client slow = client();
  Client bad = client();
  ASSERT_EQ(good.ask("tlspolicy dane.example"), "OK dane");
  ASSERT_TRUE(slow.send(encode_netstring("tlspolicy slow.example")));  // in flight during the bad one
  ASSERT_TRUE(bad.send("99999999:"));
  EXPECT_EQ(bad.reply(), "PERM request too long");
  EXPECT_EQ(bad.reply(), "<eof>");
  EXPECT_EQ(good.ask("tlspolicy dane-only.example"), "OK dane-only");
  EXPECT_EQ(slow.reply(), "OK dane-only");
  // A client that never reads its replies does not block others either.
  Client hog = client();
  std::string burst;
  for (int i = 0; i < 20'000; ++i) burst += encode_netstring("tlspolicy dane.example");
  ASSERT_TRUE(hog.send(burst.substr(0, 64 * 1024)));
  EXPECT_EQ(good.ask("tlspolicy dane.example"), "OK dane");
}

}  // namespace
}  // namespace tlsfence::socketmap
