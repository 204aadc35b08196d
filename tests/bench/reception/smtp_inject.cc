// SMTP injector for the reception benchmark: ONE thread, one epoll set, C SMTP client
// connections to a real smtpd (so its restrictions, policy service and milters run), which
// together send a fixed message set as fast as the server accepts it, then (optionally) wait
// until the sending MTA's log shows every accepted message delivered.
//
//   smtp_inject --tcp HOST:PORT -f MESSAGES [-c CONNS] [-m MSGS_PER_SESSION] [-s BODY_BYTES]
//               [-t TAG] [-l MAILLOG] [-w SECONDS]
//
// MESSAGES: one message per line, "SENDER RECIPIENT [tls-required-no]" (blank lines and lines
// starting with '#' skipped). Each connection: banner, EHLO, then MAIL/RCPT/DATA/body for up
// to MSGS_PER_SESSION messages (no pipelining: one command, one reply), QUIT, and a new
// connection while messages remain. A 4xx/5xx to MAIL, RCPT or DATA counts as rejected (RSET
// and go on). Every message carries "X-Tlsfence-Bench: TAG" (to find and delete the delivered
// copies) and a body of BODY_BYTES (default 2000).
// With -l MAILLOG: the log's size is noted before the first connection; after the last
// message is accepted the log is read from there until it holds one "status=sent" or
// "status=bounced" line per accepted message (one recipient each), or -w SECONDS (default 300)
// pass. Deferrals are counted but not waited out.
//
// Output (one line, key=value): conns accepted rejected inject_s inject_mps p50_ms p99_ms
// sent bounced deferred e2e_s e2e_mps (e2e_* = first connection → last delivery line)
// injector_cpu_us (this process's own CPU time, log polling included).
// Exit status 0 when every message was accepted (and, with -l, delivered), 1 otherwise.
// Not part of ctest: a benchmark tool run by tests/bench/reception/run.sh.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
#include <thread>
#include <vector>

#include "../common/bench_util.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Message {
  std::string sender;
  std::string recipient;
  bool tls_required_no = false;
};

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string file;
  int conns = 8;
  int per_session = 20;
  std::size_t body_bytes = 2000;
  std::string tag = "bench";
  std::string maillog;
  double wait_seconds = 300;
};

enum class State { connecting, banner, ehlo, mail, rcpt, data, body, rset, quit, done };

struct Conn {
  int fd = -1;
  State state = State::done;
  std::string in;
  std::string out;
  std::size_t out_at = 0;
  std::size_t msg = 0;  // index of the current message
  int sent_in_session = 0;
  bool failed_msg = false;  // current message got a 4xx/5xx
  Clock::time_point started;
};

using bench::die;

std::vector<Message> read_messages(const std::string& path) {
  std::ifstream f(path);
  if (!f) {
    std::fprintf(stderr, "smtp_inject: cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::vector<Message> out;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    Message m;
    std::size_t a = line.find(' ');
    if (a == std::string::npos) continue;
    m.sender = line.substr(0, a);
    std::size_t b = line.find(' ', a + 1);
    m.recipient = line.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
    m.tls_required_no =
        b != std::string::npos && line.compare(b + 1, std::string::npos, "tls-required-no") == 0;
    out.push_back(std::move(m));
  }
  return out;
}

std::string message_text(const Message& m, std::size_t index, const Options& o) {
  std::string s;
  s.reserve(o.body_bytes + 512);
  s += "From: <" + m.sender + ">\r\n";
  s += "To: <" + m.recipient + ">\r\n";
  s += "Subject: reception benchmark message " + std::to_string(index) + "\r\n";
  s += "Message-ID: <" + o.tag + "." + std::to_string(index) + "@bench.sender.test>\r\n";
  s += "X-Tlsfence-Bench: " + o.tag + "\r\n";
  if (m.tls_required_no) s += "TLS-Required: No\r\n";
  s += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n";
  static constexpr std::string_view words =
      "The quick brown fox jumps over the lazy dog while the mail queue drains at a steady pace. ";
  std::size_t line_len = 0;
  for (std::size_t n = 0; n < o.body_bytes; ++n) {
    const char c = words[n % words.size()];
    if (line_len >= 72 && c == ' ') {
      s += "\r\n";
      line_len = 0;
      continue;
    }
    s += c;
    ++line_len;
  }
  s += "\r\n.\r\n";
  return s;
}

// A complete SMTP reply at the front of `in` (possibly multi-line); returns its code and
// removes it, or 0 when incomplete.
int take_reply(std::string& in) {
  std::size_t pos = 0;
  for (;;) {
    const std::size_t eol = in.find("\r\n", pos);
    if (eol == std::string::npos) return 0;
    if (eol - pos < 3) {
      std::fprintf(stderr, "smtp_inject: bad reply line\n");
      std::exit(3);
    }
    const bool last = eol - pos == 3 || in[pos + 3] == ' ';
    if (last) {
      const int code = std::atoi(in.substr(pos, 3).c_str());
      in.erase(0, eol + 2);
      return code;
    }
    pos = eol + 2;
  }
}

long file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<long>(st.st_size) : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() { return bench::option_value(argc, argv, i, "smtp_inject"); };
    if (a == "--tcp") {
      std::string hp = next();
      auto colon = hp.rfind(':');
      o.host = hp.substr(0, colon);
      o.port = std::atoi(hp.c_str() + colon + 1);
    } else if (a == "-f") {
      o.file = next();
    } else if (a == "-c") {
      o.conns = std::max(1, std::atoi(next().c_str()));
    } else if (a == "-m") {
      o.per_session = std::max(1, std::atoi(next().c_str()));
    } else if (a == "-s") {
      o.body_bytes = static_cast<std::size_t>(std::atol(next().c_str()));
    } else if (a == "-t") {
      o.tag = next();
    } else if (a == "-l") {
      o.maillog = next();
    } else if (a == "-w") {
      o.wait_seconds = std::atof(next().c_str());
    } else {
      std::fprintf(
          stderr,
          "usage: smtp_inject --tcp HOST:PORT -f MESSAGES [-c CONNS] [-m PER_SESSION] [-s BODY_BYTES] "
          "[-t TAG] [-l MAILLOG] [-w SECONDS]\n");
      return 2;
    }
  }
  if (o.port == 0 || o.file.empty()) {
    std::fprintf(stderr, "smtp_inject: --tcp and -f are required\n");
    return 2;
  }
  const std::vector<Message> messages = read_messages(o.file);
  if (messages.empty()) {
    std::fprintf(stderr, "smtp_inject: no messages in %s\n", o.file.c_str());
    return 2;
  }
  // The message texts are built before the clock starts.
  std::vector<std::string> texts;
  texts.reserve(messages.size());
  for (std::size_t k = 0; k < messages.size(); ++k) texts.push_back(message_text(messages[k], k, o));

  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(o.port));
  if (::inet_pton(AF_INET, o.host.c_str(), &sa.sin_addr) != 1) die("inet_pton");

  const long log_offset = o.maillog.empty() ? 0 : file_size(o.maillog);
  const int ep = ::epoll_create1(0);
  std::vector<Conn> conns(static_cast<std::size_t>(std::min<std::size_t>(o.conns, messages.size())));
  std::size_t next_msg = 0;
  std::size_t accepted = 0, rejected = 0, finished = 0;
  std::vector<uint32_t> lat_us;
  lat_us.reserve(messages.size());

  auto watch = [&](std::size_t k, uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = k;
    if (::epoll_ctl(ep, op, conns[k].fd, &ev) != 0) die("epoll_ctl");
  };
  auto open_conn = [&](std::size_t k) {
    Conn& c = conns[k];
    c = Conn{};
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c.fd < 0) die("socket");
    int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS)
      die("connect");
    c.state = State::banner;
    watch(k, EPOLLIN | EPOLLOUT, EPOLL_CTL_ADD);
  };
  auto send_cmd = [&](std::size_t k, std::string cmd, State st) {
    Conn& c = conns[k];
    c.out += cmd;
    c.state = st;
  };
  auto start_message = [&](std::size_t k) {
    Conn& c = conns[k];
    if (next_msg >= messages.size() || c.sent_in_session >= o.per_session) {
      send_cmd(k, "QUIT\r\n", State::quit);
      return;
    }
    c.msg = next_msg++;
    c.failed_msg = false;
    c.started = Clock::now();
    send_cmd(k, "MAIL FROM:<" + messages[c.msg].sender + ">\r\n", State::mail);
  };
  auto message_done = [&](std::size_t k, bool ok) {
    Conn& c = conns[k];
    ++finished;
    ++c.sent_in_session;
    if (ok) {
      ++accepted;
      lat_us.push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - c.started).count()));
    } else {
      ++rejected;
    }
  };

  const auto t0 = Clock::now();
  for (std::size_t k = 0; k < conns.size(); ++k) open_conn(k);
  std::size_t open = conns.size();

  std::vector<epoll_event> events(conns.size() + 1);
  char buf[65536];
  while (open > 0) {
    const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 30000);
    if (n == 0) {
      std::fprintf(stderr, "smtp_inject: no progress for 30 s (%zu of %zu messages done)\n", finished,
                   messages.size());
      return 3;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int e = 0; e < n; ++e) {
      const std::size_t k = events[e].data.u64;
      Conn& c = conns[k];
      if (c.state == State::done) continue;
      if (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        const ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN)) {
          if (c.state == State::quit) {
            ::close(c.fd);
            c.state = State::done;
            --open;
            if (next_msg < messages.size()) {
              open_conn(k);
              ++open;
            }
            continue;
          }
          std::fprintf(stderr, "smtp_inject: server closed a connection (%s)\n",
                       r == 0 ? "EOF" : std::strerror(errno));
          return 3;
        }
        if (r > 0) c.in.append(buf, static_cast<std::size_t>(r));
        int code;
        while (c.state != State::done && (code = take_reply(c.in)) != 0) {
          switch (c.state) {
            case State::banner:
              if (code != 220) {
                std::fprintf(stderr, "smtp_inject: banner %d\n", code);
                return 3;
              }
              send_cmd(k, "EHLO client.bench.test\r\n", State::ehlo);
              break;
            case State::ehlo:
              if (code != 250) {
                std::fprintf(stderr, "smtp_inject: EHLO %d\n", code);
                return 3;
              }
              start_message(k);
              break;
            case State::mail:
              if (code != 250) {
                message_done(k, false);
                send_cmd(k, "RSET\r\n", State::rset);
              } else {
                send_cmd(k, "RCPT TO:<" + messages[c.msg].recipient + ">\r\n", State::rcpt);
              }
              break;
            case State::rcpt:
              if (code != 250) {
                message_done(k, false);
                send_cmd(k, "RSET\r\n", State::rset);
              } else {
                send_cmd(k, "DATA\r\n", State::data);
              }
              break;
            case State::data:
              if (code != 354) {
                message_done(k, false);
                send_cmd(k, "RSET\r\n", State::rset);
              } else {
                send_cmd(k, texts[c.msg], State::body);
              }
              break;
            case State::body:
              message_done(k, code == 250);
              start_message(k);
              break;
            case State::rset: start_message(k); break;
            case State::quit:
              ::close(c.fd);
              c.state = State::done;
              --open;
              if (next_msg < messages.size()) {
                open_conn(k);
                ++open;
              }
              break;
            default: break;
          }
        }
      }
      if (c.state == State::done) continue;
      while (c.out_at < c.out.size()) {
        const ssize_t w = ::send(c.fd, c.out.data() + c.out_at, c.out.size() - c.out_at, MSG_NOSIGNAL);
        if (w < 0) {
          if (errno == EAGAIN || errno == ENOTCONN) break;
          die("send");
        }
        c.out_at += static_cast<std::size_t>(w);
      }
      if (c.out_at == c.out.size()) {
        c.out.clear();
        c.out_at = 0;
      }
      watch(k, EPOLLIN | (c.out.empty() ? 0u : static_cast<uint32_t>(EPOLLOUT)), EPOLL_CTL_MOD);
    }
  }
  const auto t_inject = Clock::now();
  const double inject_s = std::chrono::duration<double>(t_inject - t0).count();

  // Delivery: count the status lines the MTA logged since we started.
  std::size_t sent = 0, bounced = 0, deferred = 0;
  double e2e_s = 0;
  bool delivered_all = true;
  if (!o.maillog.empty()) {
    delivered_all = false;
    std::ifstream log(o.maillog, std::ios::binary);
    log.seekg(log_offset);
    std::string pending, line;
    const auto give_up =
        t_inject + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.wait_seconds));
    for (;;) {
      char chunk[65536];
      log.read(chunk, sizeof chunk);
      const std::streamsize got = log.gcount();
      if (got > 0) {
        pending.append(chunk, static_cast<std::size_t>(got));
        std::size_t start = 0, eol;
        while ((eol = pending.find('\n', start)) != std::string::npos) {
          const std::string_view l(pending.data() + start, eol - start);
          if (l.find(" to=<") != std::string_view::npos) {
            if (l.find(" status=sent") != std::string_view::npos) ++sent;
            if (l.find(" status=bounced") != std::string_view::npos) ++bounced;
            if (l.find(" status=deferred") != std::string_view::npos) ++deferred;
          }
          start = eol + 1;
        }
        pending.erase(0, start);
      }
      const auto now = Clock::now();
      if (sent + bounced >= accepted) {
        e2e_s = std::chrono::duration<double>(now - t0).count();
        delivered_all = bounced == 0;
        break;
      }
      if (now > give_up) {
        e2e_s = std::chrono::duration<double>(now - t0).count();
        std::fprintf(stderr, "smtp_inject: only %zu of %zu delivered within %.0f s\n", sent, accepted,
                     o.wait_seconds);
        break;
      }
      log.clear();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  std::sort(lat_us.begin(), lat_us.end());
  auto pct = [&](double p) { return static_cast<double>(bench::percentile(lat_us, p)) / 1000.0; };
  // The injector's own CPU time (it must stay far from being the bottleneck).
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  const long long self_cpu_us =
      (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
  std::printf(
      "conns=%zu accepted=%zu rejected=%zu inject_s=%.3f inject_mps=%.1f p50_ms=%.2f p99_ms=%.2f sent=%zu "
      "bounced=%zu deferred=%zu e2e_s=%.3f e2e_mps=%.1f injector_cpu_us=%lld\n",
      conns.size(), accepted, rejected, inject_s, static_cast<double>(accepted) / inject_s, pct(0.50),
      pct(0.99), sent, bounced, deferred, e2e_s, e2e_s > 0 ? static_cast<double>(sent) / e2e_s : 0.0,
      self_cpu_us);
  return (rejected == 0 && delivered_all) ? 0 : 1;
}
