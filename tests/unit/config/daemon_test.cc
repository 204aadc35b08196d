// The Daemon's plug-in points: a door's StreamHandler gets each connection on the io thread,
// a Service's hooks run in order, a handler's exception is contained, and stop is prompt even
// with connections still open.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "util/daemon.h"
#include "util/listen_spec.h"
#include "util/listener.h"

namespace tlsfence {
namespace {

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  for (int i = 0; i < 200; ++i) {
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::close(fd);
  return -1;
}

TEST(Daemon, DoorsServicesAndPromptStop) {
  char tmpl[] = "/tmp/tlsfence-daemon-test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  auto cfg = std::make_shared<Config>();
  cfg->daemon.user = "";
  cfg->daemon.log = LogTarget::stderr_;
  std::string echo_path = dir + "/echo.sock", boom_path = dir + "/boom.sock";

  Daemon daemon("unit", cfg, [] { return Config{}; });
  std::vector<std::string> events;
  daemon.add_door("echo", {"unix:" + echo_path}, [](StreamSocket s) -> Task<void> {
    char buf[5];
    co_await asio::async_read(s, asio::buffer(buf), asio::use_awaitable);
    co_await asio::async_write(s, asio::buffer(buf), asio::use_awaitable);
    co_await asio::async_read(s, asio::buffer(buf), asio::use_awaitable);  // waits forever
  });
  daemon.add_door(
      "boom", {"unix:" + boom_path},
      [](StreamSocket) -> Task<void> {
        throw std::runtime_error("handler failed");
        co_return;
      },
      ListenOptions{.unix_mode = 0600});
  daemon.add_service(Service{"svc",
                             [&] { events.push_back("open"); },
                             [&] { events.push_back("start"); },
                             [&] { events.push_back("stop"); },
                             {}});

  std::thread client([&] {
    int boom = connect_unix(boom_path);
    struct stat st {};
    EXPECT_EQ(::stat(boom_path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    int fd = connect_unix(echo_path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "hello", 5), 5);
    char buf[5] = {};
    ASSERT_EQ(::read(fd, buf, 5), 5);
    EXPECT_EQ(std::string(buf, 5), "hello");
    daemon.request_stop();  // the echo connection is still open
    ::close(fd);
    ::close(boom);
  });
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(daemon.run(), 0);
  client.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(events, (std::vector<std::string>{"open", "start", "stop"}));
  EXPECT_FALSE(std::filesystem::exists(echo_path));  // socket files removed on stop
  std::filesystem::remove_all(dir);
}

TEST(Daemon, StartupFailureReturnsOne) {
  auto cfg = std::make_shared<Config>();
  cfg->daemon.user = "";
  Daemon daemon("unit", cfg, [] { return Config{}; });
  daemon.add_door("bad", {"unix:/nonexistent-dir-tlsfence/x/y.sock"});
  EXPECT_EQ(daemon.run(), 1);
  Daemon d2("unit", cfg, [] { return Config{}; });
  d2.add_service(Service{"svc", [] { throw std::runtime_error("cannot open"); }, {}, {}, {}});
  EXPECT_EQ(d2.run(), 1);
}

// /healthz's "door not listening": nothing while the socket file is the listener's own; the
// door named once the file is removed or replaced by another; every door once stopped.
TEST(Daemon, DoorProblemsNameAListenerWhoseSocketFileIsGoneOrReplaced) {
  char tmpl[] = "/tmp/tlsfence-daemon-test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  auto cfg = std::make_shared<Config>();
  cfg->daemon.user = "";
  Daemon daemon("unit", cfg, [] { return Config{}; });
  daemon.add_door("one", {"unix:" + dir + "/one.sock"});
  daemon.add_door("two", {"unix:" + dir + "/two.sock"});
  std::vector<std::vector<std::string>> seen;
  std::thread client([&] {
    ASSERT_GE(connect_unix(dir + "/one.sock"), 0);
    ASSERT_GE(connect_unix(dir + "/two.sock"), 0);
    auto problems = [&] {
      std::promise<std::vector<std::string>> p;
      asio::post(daemon.io(), [&] { p.set_value(daemon.door_problems()); });
      return p.get_future().get();
    };
    seen.push_back(problems());
    std::filesystem::remove(dir + "/one.sock");
    seen.push_back(problems());
    std::filesystem::remove(dir + "/two.sock");
    { std::ofstream(dir + "/two.sock") << "not the listener"; }
    seen.push_back(problems());
    daemon.request_stop();
  });
  EXPECT_EQ(daemon.run(), 0);
  client.join();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_TRUE(seen[0].empty());
  ASSERT_EQ(seen[1].size(), 1u);
  EXPECT_EQ(seen[1][0],
            "door one not listening on unix:" + dir + "/one.sock: socket file " + dir + "/one.sock is gone");
  ASSERT_EQ(seen[2].size(), 2u);
  EXPECT_EQ(seen[2][1], "door two not listening on unix:" + dir + "/two.sock: socket file " + dir +
                            "/two.sock was replaced");
  std::filesystem::remove_all(dir);
}

// A burst of connections before the daemon accepts any (hundreds of smtp(8) processes asking the
// socketmap at once) waits in the listen queue: none gets EAGAIN, which an MTA would see as a
// failed lookup. The old backlog of 128 refused the 130th.
TEST(Listener, QueuesABurstOfAThousandConnectionsBeforeAccepting) {
  char tmpl[] = "/tmp/tlsfence-listener-test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  auto spec = parse_listen_spec("unix:" + dir + "/burst.sock");
  ASSERT_TRUE(spec.spec) << spec.error;
  asio::io_context io;
  Listener listener(io, *spec.spec);
  int somaxconn = 4096;
  std::ifstream("/proc/sys/net/core/somaxconn") >> somaxconn;
  const int burst = std::min(1000, somaxconn);
  std::vector<int> fds;
  int refused = 0;
  for (int i = 0; i < burst; ++i) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", (dir + "/burst.sock").c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) ++refused;
    fds.push_back(fd);
  }
  EXPECT_EQ(refused, 0) << "of " << burst << " connections before any accept";
  for (int fd : fds) ::close(fd);
  listener.close();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tlsfence
