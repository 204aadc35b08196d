// Postfix policy-delegation load generator: ONE thread, one epoll set, C connections each kept
// busy with request/reply (as Postfix's smtpd does: one request in flight per connection) for
// D seconds, after W seconds of warm-up. Prints requests/s and latency percentiles (send of a
// request → its reply read). Same shape as tests/bench/socketmap/loadgen.cc.
//
//   policy_loadgen (--unix PATH | --tcp HOST:PORT) -f REQUESTS [-c CONNS] [-d SECONDS] [-w WARMUP]
//
// REQUESTS: one request per line, tab-separated:
//   EXPECTED_ACTION  sender  recipient  client_address  sasl_username
// ("-" for an empty field). Each becomes the attribute block Postfix 3.7's smtpd sends at
// RCPT (request=smtpd_access_policy, protocol_state=RCPT, helo_name, queue_id, sender,
// recipient, client_address, sasl_*, TLS attributes, server_address, … then an empty line);
// connections walk the list round robin. A reply must be exactly "action=EXPECTED_ACTION"
// followed by an empty line, else it counts as an error (the first few are printed).
//
// Output (one line, key=value): conns seconds requests rps p50_us p90_us p99_us max_us errors
// total (every reply, warm-up and drain included: for CPU-per-request figures).
// Exit status 0 without errors, 1 with. Not part of ctest: run by tests/bench/reception/run.sh.
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
#include <fstream>
#include <string>
#include <string_view>
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
  std::string file;
};

struct Request {
  std::string wire;    // the attribute block, empty line included
  std::string expect;  // the whole reply expected: "action=…\n\n"
};

struct Conn {
  int fd = -1;
  std::string in;
  std::size_t request = 0;  // index of the request in flight
  std::size_t out_at = 0;
  bool busy = false;
  Clock::time_point sent;
};

using bench::die;

int connect_one(const Options& o) {
  return bench::connect_stream(o.unix_path, o.host, o.port);
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t t = line.find('\t', start);
    std::string f = line.substr(start, t == std::string::npos ? std::string::npos : t - start);
    out.push_back(f == "-" ? std::string() : f);
    if (t == std::string::npos) break;
    start = t + 1;
  }
  return out;
}

// The attribute block of Postfix 3.7's smtpd at RCPT time (SMTPD_POLICY_README), with the
// given envelope and client; the rest is what a TLS-protected submission from a SASL user or
// a relaying client looks like.
std::string postfix_request(std::size_t n, const std::string& sender, const std::string& recipient,
                            const std::string& client_address, const std::string& sasl_username) {
  char queue_id[16];
  std::snprintf(queue_id, sizeof queue_id, "%010llX",
                static_cast<unsigned long long>(n * 2654435761u % 0xFFFFFFFFFFull));
  std::string s;
  s.reserve(1024);
  auto attr = [&](std::string_view k, std::string_view v) {
    s += k;
    s += '=';
    s += v;
    s += '\n';
  };
  attr("request", "smtpd_access_policy");
  attr("protocol_state", "RCPT");
  attr("protocol_name", "ESMTP");
  attr("helo_name", "client.bench.test");
  attr("queue_id", "");
  attr("sender", sender);
  attr("recipient", recipient);
  attr("recipient_count", "0");
  attr("client_address", client_address);
  attr("client_name", "unknown");
  attr("reverse_client_name", "unknown");
  attr("instance", std::string("4a2.") + queue_id + ".0");
  attr("sasl_method", sasl_username.empty() ? "" : "plain");
  attr("sasl_username", sasl_username);
  attr("sasl_sender", "");
  attr("size", "2412");
  attr("ccert_subject", "");
  attr("ccert_issuer", "");
  attr("ccert_fingerprint", "");
  attr("ccert_pubkey_fingerprint", "");
  attr("encryption_protocol", "TLSv1.3");
  attr("encryption_cipher", "TLS_AES_256_GCM_SHA384");
  attr("encryption_keysize", "256");
  attr("etrn_domain", "");
  attr("stress", "");
  attr("client_port", std::to_string(40000 + n % 20000));
  attr("policy_context", "");
  attr("server_address", "127.0.0.1");
  attr("server_port", "587");
  attr("compatibility_level", "3.7");
  attr("mail_version", "3.7.11");
  s += '\n';
  return s;
}

std::vector<Request> read_requests(const std::string& path) {
  std::ifstream f(path);
  if (!f) {
    std::fprintf(stderr, "policy_loadgen: cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::vector<Request> out;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto fields = split_tabs(line);
    fields.resize(5);
    Request r;
    r.wire = postfix_request(out.size(), fields[1], fields[2], fields[3], fields[4]);
    r.expect = "action=" + fields[0] + "\n\n";
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() { return bench::option_value(argc, argv, i, "policy_loadgen"); };
    if (a == "--unix") {
      o.unix_path = next();
    } else if (a == "--tcp") {
      std::string hp = next();
      auto colon = hp.rfind(':');
      o.host = hp.substr(0, colon);
      o.port = std::atoi(hp.c_str() + colon + 1);
    } else if (a == "-c") {
      o.conns = std::max(1, std::atoi(next().c_str()));
    } else if (a == "-d") {
      o.seconds = std::atof(next().c_str());
    } else if (a == "-w") {
      o.warmup = std::atof(next().c_str());
    } else if (a == "-f") {
      o.file = next();
    } else {
      std::fprintf(
          stderr, "usage: policy_loadgen (--unix PATH | --tcp HOST:PORT) -f REQUESTS [-c N] [-d S] [-w S]\n");
      return 2;
    }
  }
  if ((o.unix_path.empty() && o.host.empty()) || o.file.empty()) {
    std::fprintf(stderr, "policy_loadgen: --unix or --tcp, and -f, are required\n");
    return 2;
  }
  const std::vector<Request> requests = read_requests(o.file);
  if (requests.empty()) {
    std::fprintf(stderr, "policy_loadgen: no requests in %s\n", o.file.c_str());
    return 2;
  }

  const int ep = ::epoll_create1(0);
  std::vector<Conn> conns(static_cast<std::size_t>(o.conns));
  std::size_t next_request = 0;
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
    const std::string& w = requests[c.request].wire;
    while (c.out_at < w.size()) {
      const ssize_t n = ::send(c.fd, w.data() + c.out_at, w.size() - c.out_at, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN) break;
        die("send");
      }
      c.out_at += static_cast<std::size_t>(n);
    }
    epoll_event ev{};
    ev.events = EPOLLIN | (c.out_at < w.size() ? static_cast<uint32_t>(EPOLLOUT) : 0u);
    ev.data.u64 = k;
    ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
  };
  auto start_request = [&](std::size_t k, Clock::time_point now) {
    Conn& c = conns[k];
    c.request = next_request++ % requests.size();
    c.out_at = 0;
    c.busy = true;
    c.sent = now;
    flush(k);
  };

  for (std::size_t k = 0; k < conns.size(); ++k) start_request(k, Clock::now());

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
          std::fprintf(stderr, "policy_loadgen: server closed a connection\n");
          return 3;
        }
        if (r < 0) {
          if (errno != EAGAIN) die("recv");
        } else {
          c.in.append(buf, static_cast<std::size_t>(r));
          const std::size_t end = c.in.find("\n\n");
          if (end != std::string::npos) {
            if (!c.busy || end + 2 != c.in.size()) {
              std::fprintf(stderr, "policy_loadgen: unsolicited or extra reply data\n");
              return 3;
            }
            const std::string& expect = requests[c.request].expect;
            if (c.in != expect) {
              if (errors < 5)
                std::fprintf(stderr, "policy_loadgen: expected %.*s got %.*s\n",
                             static_cast<int>(expect.size() - 2), expect.c_str(), static_cast<int>(end),
                             c.in.c_str());
              ++errors;
            }
            c.in.clear();
            c.busy = false;
            if (c.sent >= measure_from && now <= stop_at) {
              lat_us.push_back(static_cast<uint32_t>(
                  std::chrono::duration_cast<std::chrono::microseconds>(now - c.sent).count()));
              ++counted;
            }
            ++total;
            if (!stopping) start_request(k, now);
            continue;
          }
        }
      }
      if (events[e].events & EPOLLOUT) flush(k);
    }
    if (stopping) {
      bool idle = true;
      for (auto& c : conns) idle = idle && !c.busy;
      if (idle || now - measured_end > std::chrono::seconds(5)) break;
    }
  }
  const double secs = std::chrono::duration<double>(measured_end - measure_from).count();
  std::sort(lat_us.begin(), lat_us.end());
  auto pct = [&](double p) { return bench::percentile(lat_us, p); };
  std::printf(
      "conns=%d seconds=%.2f requests=%llu rps=%.0f p50_us=%u p90_us=%u p99_us=%u max_us=%u errors=%llu "
      "total=%llu\n",
      o.conns, secs, static_cast<unsigned long long>(counted), static_cast<double>(counted) / secs, pct(0.50),
      pct(0.90), pct(0.99), lat_us.empty() ? 0 : lat_us.back(), static_cast<unsigned long long>(errors),
      static_cast<unsigned long long>(total));
  for (auto& c : conns) ::close(c.fd);
  return errors == 0 ? 0 : 1;
}
