// socketmap load generator: ONE thread, one epoll set, C connections each kept busy with
// request/reply (a pipeline of P requests in flight per connection) for D seconds.
// Prints requests/s and latency percentiles (time from sending a request to reading its reply).
//
//   loadgen (--unix PATH | --tcp HOST:PORT) [-c CONNS] [-d SECONDS] [-p DEPTH] [-w WARMUP]
//           [-q "NAME KEY"] [-e EXPECTED_REPLY_PREFIX]
//
// Output (one line, key=value): conns depth seconds requests rps p50_us p90_us p99_us max_us errors
// total (every reply, warm-up and drain included: for CPU-per-request figures)
// A reply that does not start with the expected prefix counts as an error (default "OK ").
// Not part of ctest: a benchmark tool run by tests/bench/socketmap/run.sh.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "../common/bench_util.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string unix_path;
  std::string host;
  int port = 0;
  int conns = 1;
  double seconds = 5;
  double warmup = 1;
  int depth = 1;
  std::string query = "tlspolicy bench.example";
  std::string expect = "OK ";
};

struct Conn {
  int fd = -1;
  std::string in;
  std::size_t in_at = 0;
  std::string out;
  std::size_t out_at = 0;
  std::deque<Clock::time_point> sent;  // send time of each request in flight, in order
};

using bench::die;

int connect_one(const Options& o) {
  return bench::connect_stream(o.unix_path, o.host, o.port);
}

// Parses one netstring reply at c.in[c.in_at]; returns false when incomplete. Exits on garbage.
bool take_reply(Conn& c, std::string_view& data) {
  const std::string_view s(c.in.data() + c.in_at, c.in.size() - c.in_at);
  std::size_t len = 0, i = 0;
  for (; i < s.size() && s[i] != ':'; ++i) {
    if (s[i] < '0' || s[i] > '9' || i > 8) {
      std::fprintf(stderr, "loadgen: bad reply framing\n");
      std::exit(3);
    }
    len = len * 10 + static_cast<std::size_t>(s[i] - '0');
  }
  if (i == s.size() || s.size() < i + 1 + len + 1) return false;
  data = s.substr(i + 1, len);
  c.in_at += i + 1 + len + 1;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() { return bench::option_value(argc, argv, i, "loadgen"); };
    if (a == "--unix") {
      o.unix_path = next();
    } else if (a == "--tcp") {
      std::string hp = next();
      auto colon = hp.rfind(':');
      o.host = hp.substr(0, colon);
      o.port = std::atoi(hp.c_str() + colon + 1);
    } else if (a == "-c") {
      o.conns = std::atoi(next().c_str());
    } else if (a == "-d") {
      o.seconds = std::atof(next().c_str());
    } else if (a == "-w") {
      o.warmup = std::atof(next().c_str());
    } else if (a == "-p") {
      o.depth = std::max(1, std::atoi(next().c_str()));
    } else if (a == "-q") {
      o.query = next();
    } else if (a == "-e") {
      o.expect = next();
    } else {
      std::fprintf(stderr,
                   "usage: loadgen (--unix PATH | --tcp HOST:PORT) [-c N] [-d S] [-p DEPTH] [-w S] [-q REQ] "
                   "[-e PREFIX]\n");
      return 2;
    }
  }
  if (o.unix_path.empty() && o.host.empty()) {
    std::fprintf(stderr, "loadgen: --unix or --tcp is required\n");
    return 2;
  }
  const std::string request = std::to_string(o.query.size()) + ":" + o.query + ",";

  const int ep = ::epoll_create1(0);
  std::vector<Conn> conns(static_cast<std::size_t>(o.conns));
  for (std::size_t k = 0; k < conns.size(); ++k) {
    conns[k].fd = connect_one(o);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = k;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, conns[k].fd, &ev) != 0) die("epoll_ctl");
  }

  std::vector<uint32_t> lat_us;
  lat_us.reserve(4'000'000);
  uint64_t errors = 0, counted = 0, total = 0;
  const auto t0 = Clock::now();
  const auto measure_from =
      t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup));
  const auto stop_at =
      measure_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));

  auto flush = [&](std::size_t k) {
    Conn& c = conns[k];
    while (c.out_at < c.out.size()) {
      const ssize_t n = ::send(c.fd, c.out.data() + c.out_at, c.out.size() - c.out_at, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN) break;
        die("send");
      }
      c.out_at += static_cast<std::size_t>(n);
    }
    if (c.out_at == c.out.size()) {
      c.out.clear();
      c.out_at = 0;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | (c.out.empty() ? 0u : static_cast<uint32_t>(EPOLLOUT));
    ev.data.u64 = k;
    ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
  };
  auto queue_request = [&](Conn& c, Clock::time_point now) {
    c.out += request;
    c.sent.push_back(now);
  };

  {
    const auto now = Clock::now();
    for (std::size_t k = 0; k < conns.size(); ++k) {
      for (int d = 0; d < o.depth; ++d) queue_request(conns[k], now);
      flush(k);
    }
  }

  std::vector<epoll_event> events(conns.size() + 1);
  char buf[65536];
  bool stopping = false;
  Clock::time_point measured_end{};
  for (;;) {
    const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    const auto now = Clock::now();
    if (!stopping && now >= stop_at) {
      stopping = true;
      measured_end = now;
    }
    for (int e = 0; e < n; ++e) {
      const std::size_t k = events[e].data.u64;
      Conn& c = conns[k];
      if (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        const ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
        if (r == 0) {
          std::fprintf(stderr, "loadgen: server closed a connection\n");
          return 3;
        }
        if (r < 0) {
          if (errno != EAGAIN) die("recv");
        } else {
          c.in.append(buf, static_cast<std::size_t>(r));
          std::string_view reply;
          int answered = 0;
          while (take_reply(c, reply)) {
            const auto sent = c.sent.front();
            c.sent.pop_front();
            if (reply.substr(0, o.expect.size()) != o.expect) ++errors;
            if (sent >= measure_from && now <= stop_at) {
              lat_us.push_back(static_cast<uint32_t>(
                  std::chrono::duration_cast<std::chrono::microseconds>(now - sent).count()));
              ++counted;
            }
            ++answered;
            ++total;
          }
          if (c.in_at == c.in.size()) {
            c.in.clear();
            c.in_at = 0;
          }
          if (!stopping)
            for (int a = 0; a < answered; ++a) queue_request(c, now);
        }
      }
      if (!c.out.empty() || (events[e].events & EPOLLOUT)) flush(k);
    }
    if (stopping) {
      bool idle = true;
      for (auto& c : conns) idle = idle && c.sent.empty();
      if (idle || now - measured_end > std::chrono::seconds(5)) break;
    }
  }
  const double secs = std::chrono::duration<double>(measured_end - measure_from).count();
  std::sort(lat_us.begin(), lat_us.end());
  auto pct = [&](double p) { return bench::percentile(lat_us, p); };
  std::printf(
      "conns=%d depth=%d seconds=%.2f requests=%llu rps=%.0f p50_us=%u p90_us=%u p99_us=%u max_us=%u "
      "errors=%llu total=%llu\n",
      o.conns, o.depth, secs, static_cast<unsigned long long>(counted), static_cast<double>(counted) / secs,
      pct(0.50), pct(0.90), pct(0.99), lat_us.empty() ? 0 : lat_us.back(),
      static_cast<unsigned long long>(errors), static_cast<unsigned long long>(total));
  for (auto& c : conns) ::close(c.fd);
  return errors == 0 ? 0 : 1;
}
