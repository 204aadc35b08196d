#include "rptd/delivery.h"

#include "async/asio.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include "dns/unbound_resolver.h"
#include "parse/dns_wire.h"
#include "rptd/https_post.h"

// g++ 12 at -O2 reports a false -Wmismatched-new-delete inside Asio's coroutine frame allocator.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace tlsfence::rptd {

std::optional<parse::TlsrptRecord> lookup_tlsrpt_record(const Config& cfg, const std::string& domain,
                                                        std::string& error) {
  std::cout.flush();  // libunbound may fork a worker that exits through exit()
  std::fflush(nullptr);
  asio::io_context io;
  dns::UnboundResolver resolver(io, cfg.dns);
  DnsAnswer answer;
  std::exception_ptr failure;
  asio::co_spawn(
      io, [&]() -> Task<void> { answer = co_await resolver.query("_smtp._tls." + domain, 16); },
      [&](std::exception_ptr e) {
        failure = e;
        io.stop();
      });
  io.run();
  if (failure) std::rethrow_exception(failure);
  if (answer.failed()) {
    error = answer.timed_out ? "TXT lookup timed out" : "TXT lookup failed: " + answer.error;
    return std::nullopt;
  }
  std::vector<std::string> txts;
  for (const auto& rd : answer.rdata) {
    if (auto t = parse::parse_txt_rdata(rd)) txts.push_back(*t);
  }
  auto r = parse::select_tlsrpt_record(txts);
  if (!r.record) {
    error = std::string(parse::to_string(r.error));
    return std::nullopt;
  }
  return r.record;
}

std::string pipe_to_command(const std::string& command, const std::string& input) {
  std::vector<std::string> words;
  std::istringstream in(command);
  for (std::string w; in >> w;) words.push_back(w);
  if (words.empty()) return "empty sendmail-command";
  std::cout.flush();
  std::fflush(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return std::string("fork: ") + std::strerror(errno);
  }
  if (pid == 0) {
    ::dup2(fds[0], 0);
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[0]);
  std::size_t done = 0;
  while (done < input.size()) {
    ssize_t n = ::write(fds[1], input.data() + done, input.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fds[1]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return done == input.size() ? "" : "short write";
  if (WIFEXITED(status)) return words[0] + " exited with status " + std::to_string(WEXITSTATUS(status));
  return words[0] + " killed by signal";
}

std::optional<parse::TlsrptRecord> NetworkTransport::record(const std::string& domain, std::string& error) {
  return lookup_tlsrpt_record(cfg_, domain, error);
}

SendResult NetworkTransport::send(const parse::TlsrptRua& rua, const tlsrpt::BuiltReport& report,
                                  std::int64_t now_unix) {
  if (rua.scheme == parse::TlsrptRua::Scheme::mailto) {
    const tlsrpt::ReportMeta meta{cfg_.tlsrpt.organization_name, cfg_.tlsrpt.contact_info,
                                  cfg_.tlsrpt.submitter};
    tlsrpt::MailEnvelope env;
    env.from = "tlsrpt-noreply@" + cfg_.tlsrpt.submitter;
    env.to = {rua.target};
    env.date_unix = now_unix;
    std::string error = pipe_to_command(cfg_.tlsrpt.sendmail_command, tlsrpt::report_mail(meta, report, env));
    if (!error.empty()) return {false, error};
    std::istringstream words(cfg_.tlsrpt.sendmail_command);
    std::string program;
    words >> program;
    return {true, "accepted by " + program};
  }
  auto r = https_post_report(cfg_, rua.target, report.gzip);
  return {r.ok, r.detail};
}

std::chrono::seconds backoff_delay(std::uint64_t failures, const Backoff& b) {
  std::chrono::seconds d = b.first;
  for (std::uint64_t i = 1; i < failures && d < b.cap; ++i) d *= 2;
  return std::min(d, b.cap);
}

DeliveryOptions delivery_options(const Config& cfg) {
  DeliveryOptions o;
  o.meta = {cfg.tlsrpt.organization_name, cfg.tlsrpt.contact_info, cfg.tlsrpt.submitter};
  o.outbox = cfg.tlsrpt.outbox;
  return o;
}

namespace {

std::int64_t unix_now(const Clock& c) {
  return std::chrono::duration_cast<std::chrono::seconds>(c.now().time_since_epoch()).count();
}

std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

DayDelivery Deliverer::plan_day(std::int64_t day, std::ostream& out) {
  DayDelivery result;
  const std::int64_t now = unix_now(clock_);
  for (const auto& d : store_.day_aggregates(day)) {
    std::string error;
    auto record = transport_.record(d.policy_domain, error);
    if (!record) {
      out << d.policy_domain << ": no report (" << error << ")\n";
      continue;
    }
    const auto built = tlsrpt::build_report(options_.meta, day, d.policy_domain, d.policies);
    std::filesystem::create_directories(options_.outbox);
    tlsrpt::write_report(options_.outbox, built);
    std::vector<tlsrpt::PlannedRua> rua;
    for (const auto& r : record->rua) rua.push_back({r.uri, r.target});
    store_.plan_deliveries(day, d.policy_domain, built.report_id, built.file_name, rua, now);
    ++result.reports;
  }
  return result;
}

std::optional<tlsrpt::BuiltReport> Deliverer::load_report(const tlsrpt::Delivery& d, std::string& error) {
  // The file written when the delivery was planned is what every attempt sends; if it is gone,
  // the report is built again from the store.
  tlsrpt::BuiltReport r;
  r.day = d.day;
  r.policy_domain = d.policy_domain;
  r.report_id = d.report_id;
  r.begin = d.day * 86400;
  r.end = r.begin + 86399;
  r.file_name = d.file;
  std::ifstream in(options_.outbox / d.file, std::ios::binary);
  if (in) {
    std::ostringstream bytes;
    bytes << in.rdbuf();
    r.gzip = bytes.str();
    if (auto json = tlsrpt::gzip_decompress(r.gzip)) {
      r.json = std::move(*json);
      return r;
    }
  }
  auto policies = store_.aggregates(d.day, d.policy_domain);
  if (policies.empty()) {
    error = "report " + d.file + " missing from " + options_.outbox.string() + " and no outcomes stored";
    return std::nullopt;
  }
  auto built = tlsrpt::build_report(options_.meta, d.day, d.policy_domain, policies);
  std::filesystem::create_directories(options_.outbox);
  tlsrpt::write_report(options_.outbox, built);
  return built;
}

void Deliverer::attempt(const tlsrpt::Delivery& d, DayDelivery& r, std::ostream& out) {
  const std::int64_t now = unix_now(clock_);
  tlsrpt::DeliveryAttempt a;
  a.delivery_id = d.id;
  a.time = now;
  std::string error;
  if (auto report = load_report(d, error)) {
    auto parsed = parse::parse_tlsrpt_record("v=TLSRPTv1; rua=" + d.rua);
    if (parsed.record && parsed.record->rua.size() == 1) {
      auto sent = transport_.send(parsed.record->rua.front(), *report, now);
      a.ok = sent.ok;
      a.detail = one_line(sent.detail);
    } else {
      a.detail = "unusable rua " + d.rua;
    }
  } else {
    a.detail = error;
  }
  if (a.ok) {
    ++r.delivered;
  } else {
    ++r.failed;
    const auto next = now + backoff_delay(d.failures + 1, options_.backoff).count();
    if (next > d.created + options_.backoff.give_up_after.count()) {
      a.gave_up = true;
      ++r.gave_up;
    } else {
      a.next_retry = next;
    }
  }
  store_.record_attempt(a);
  out << d.policy_domain << " " << d.rua << " " << (a.ok ? "ok" : "fail") << " " << a.detail
      << (a.gave_up ? " (given up)" : "") << "\n";
}

DayDelivery Deliverer::attempt_due(std::ostream& out, std::optional<std::int64_t> day) {
  DayDelivery result;
  std::vector<tlsrpt::Delivery> todo;
  if (day) {
    for (auto& d : store_.deliveries(*day)) {
      if (d.state == tlsrpt::DeliveryState::delivered) {
        ++result.skipped;
        out << d.policy_domain << " " << d.rua << " already delivered\n";
      } else {
        todo.push_back(std::move(d));
      }
    }
  } else {
    todo = store_.due_deliveries(unix_now(clock_));
  }
  for (const auto& d : todo) attempt(d, result, out);
  return result;
}

DayDelivery deliver_day(const Config& cfg, tlsrpt::Store& store, std::int64_t day, std::ostream& out) {
  NetworkTransport transport(cfg);
  SystemClock clock;
  Deliverer deliverer(store, transport, clock, delivery_options(cfg));
  auto planned = deliverer.plan_day(day, out);
  auto r = deliverer.attempt_due(out, day);
  r.reports = planned.reports;
  return r;
}

}  // namespace tlsfence::rptd
