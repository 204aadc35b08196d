#include "rptd/delivery.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

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

void record_attempt(const std::filesystem::path& outbox, const DeliveryAttempt& a) {
  std::filesystem::create_directories(outbox);
  std::string detail = a.detail;
  for (char& c : detail) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  std::ofstream(outbox / "deliveries.log", std::ios::app)
      << a.unix_time << " " << a.day << " " << a.domain << " " << a.uri << " " << (a.ok ? "ok" : "fail")
      << " " << detail << "\n";
}

std::vector<DeliveryAttempt> read_attempts(const std::filesystem::path& outbox) {
  std::vector<DeliveryAttempt> out;
  std::ifstream in(outbox / "deliveries.log");
  for (std::string line; std::getline(in, line);) {
    std::istringstream l(line);
    DeliveryAttempt a;
    std::string ok;
    if (!(l >> a.unix_time >> a.day >> a.domain >> a.uri >> ok)) continue;
    a.ok = ok == "ok";
    std::getline(l >> std::ws, a.detail);
    out.push_back(a);
  }
  return out;
}

DayDelivery deliver_day(const Config& cfg, tlsrpt::Store& store, std::int64_t day, std::ostream& out) {
  DayDelivery result;
  const tlsrpt::ReportMeta meta{cfg.tlsrpt.organization_name, cfg.tlsrpt.contact_info, cfg.tlsrpt.submitter};
  const std::filesystem::path outbox = cfg.tlsrpt.outbox;
  const std::string day_text = tlsrpt::day_string(day);
  const auto earlier = read_attempts(outbox);
  for (const auto& d : store.day_aggregates(day)) {
    std::string error;
    auto record = lookup_tlsrpt_record(cfg, d.policy_domain, error);
    if (!record) {
      out << d.policy_domain << ": no report (" << error << ")\n";
      continue;
    }
    const auto built = tlsrpt::build_report(meta, day, d.policy_domain, d.policies);
    std::filesystem::create_directories(outbox);
    tlsrpt::write_report(outbox, built);
    ++result.reports;
    for (const auto& rua : record->rua) {
      bool done = false;
      for (const auto& e : earlier) {
        if (e.ok && e.day == day_text && e.domain == d.policy_domain && e.uri == rua.uri) done = true;
      }
      if (done) {
        ++result.skipped;
        out << d.policy_domain << " " << rua.uri << " already delivered\n";
        continue;
      }
      DeliveryAttempt a{
          static_cast<std::int64_t>(std::time(nullptr)), day_text, d.policy_domain, rua.uri, false, ""};
      if (rua.scheme == parse::TlsrptRua::Scheme::mailto) {
        tlsrpt::MailEnvelope env;
        env.from = "tlsrpt-noreply@" + cfg.tlsrpt.submitter;
        env.to = {rua.target};
        env.date_unix = a.unix_time;
        a.detail = pipe_to_command(cfg.tlsrpt.sendmail_command, tlsrpt::report_mail(meta, built, env));
        a.ok = a.detail.empty();
        if (a.ok) a.detail = "sent";
      } else {
        a.detail = https_post_report(cfg, rua.target, built.gzip);
        a.ok = a.detail.empty();
        if (a.ok) a.detail = "posted";
      }
      a.ok ? ++result.delivered : ++result.failed;
      record_attempt(outbox, a);
      out << d.policy_domain << " " << rua.uri << " " << (a.ok ? "ok" : "fail") << " " << a.detail << "\n";
    }
  }
  return result;
}

}  // namespace tlsfence::rptd
