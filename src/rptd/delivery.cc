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
#include <map>
#include <sstream>

#include "dns/unbound_resolver.h"
#include "parse/dns_wire.h"
#include "rptd/dkim_signer.h"
#include "rptd/https_post.h"
#include "rptd/record_gate.h"
#include "tlsrpt/counters.h"

// g++ 12 at -O2 reports a false -Wmismatched-new-delete inside Asio's coroutine frame allocator.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace tlsfence::rptd {

RecordAnswer record_answer(const DnsAnswer& answer) {
  using S = tlsrpt::RecordState;
  if (answer.failed() || answer.dnssec == DnssecState::bogus) {
    if (answer.timed_out) return {S::temporary, "TXT lookup timed out"};
    if (answer.dnssec == DnssecState::bogus)
      return {S::temporary,
              "TXT lookup DNSSEC bogus" + (answer.why_bogus.empty() ? "" : ": " + answer.why_bogus)};
    return {S::temporary,
            answer.error.empty() ? "TXT lookup SERVFAIL" : "TXT lookup failed: " + answer.error};
  }
  if (answer.rcode != rcode::noerror && answer.rcode != rcode::nxdomain)
    return {S::temporary, "TXT lookup rcode " + std::to_string(answer.rcode)};
  std::vector<std::string> txts;
  for (const auto& rd : answer.rdata) {
    if (auto t = parse::parse_txt_rdata(rd)) txts.push_back(*t);
  }
  const auto r = parse::select_tlsrpt_record(txts);
  if (r.record) {
    for (const auto& t : txts)
      if (t.starts_with("v=TLSRPTv1")) return {S::valid, t};
  }
  using E = parse::TlsrptRecordError;
  if (r.error == E::no_record || r.error == E::several_records)
    return {S::none, std::string(to_string(r.error))};
  return {S::none, "malformed TLSRPTv1 record: " + std::string(to_string(r.error))};
}

std::vector<RecordAnswer> lookup_tlsrpt_records(const Config& cfg, const std::vector<std::string>& domains,
                                                std::size_t parallel) {
  std::vector<RecordAnswer> out(domains.size());
  if (domains.empty()) return out;
  std::cout.flush();  // libunbound may fork a worker that exits through exit()
  std::fflush(nullptr);
  asio::io_context io;
  dns::UnboundResolver resolver(io, cfg.dns);
  std::size_t next = 0;
  std::exception_ptr failure;
  auto worker = [&]() -> Task<void> {
    while (next < domains.size()) {
      const std::size_t i = next++;
      out[i] = record_answer(co_await resolver.query("_smtp._tls." + domains[i], rrtype::TXT));
    }
  };
  const std::size_t workers = std::max<std::size_t>(1, std::min(parallel, domains.size()));
  std::size_t running = workers;
  for (std::size_t w = 0; w < workers; ++w) {
    asio::co_spawn(io, worker(), [&](std::exception_ptr e) {
      if (e && !failure) failure = e;
      if (--running == 0) io.stop();
    });
  }
  io.run();
  if (failure) std::rethrow_exception(failure);
  return out;
}

std::string pipe_to_command(const std::string& command, const std::string& input,
                            const std::vector<std::string>& extra_args) {
  std::vector<std::string> words;
  std::istringstream in(command);
  for (std::string w; in >> w;) words.push_back(w);
  if (words.empty()) return "empty sendmail-command";
  words.insert(words.end(), extra_args.begin(), extra_args.end());
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

std::string report_sender(const Config& cfg) {
  return "tlsrpt-noreply@" + cfg.tlsrpt.submitter;
}

std::vector<std::string> envelope_sender_args(const std::string& command, const std::string& sender) {
  if (sender.empty() || sender.back() == '@') return {};  // no submitter: leave it to the command
  std::istringstream in(command);
  for (std::string w; in >> w;)
    if (w.starts_with("-f")) return {};
  return {"-f", sender};
}

std::vector<RecordAnswer> NetworkTransport::records(const std::vector<std::string>& domains) {
  return lookup_tlsrpt_records(cfg_, domains);
}

SendResult NetworkTransport::send(const parse::TlsrptRua& rua, const tlsrpt::BuiltReport& report,
                                  std::int64_t now_unix) {
  if (rua.scheme == parse::TlsrptRua::Scheme::mailto) {
    const tlsrpt::ReportMeta meta{cfg_.tlsrpt.organization_name, cfg_.tlsrpt.contact_info,
                                  cfg_.tlsrpt.submitter};
    tlsrpt::MailEnvelope env;
    env.from = report_sender(cfg_);
    env.to = {rua.target};
    env.date_unix = now_unix;
    std::string mail = tlsrpt::report_mail(meta, report, env);
    if (signer_) {
      std::string why;
      auto signed_mail = signer_->sign(mail, why);
      if (!signed_mail) return {false, "DKIM signing failed: " + why};
      mail = std::move(*signed_mail);
    }
    std::string error = pipe_to_command(cfg_.tlsrpt.sendmail_command, mail,
                                        envelope_sender_args(cfg_.tlsrpt.sendmail_command, env.from));
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

void Deliverer::report_domains(std::int64_t day, const GateResult& gate, bool deliver, DayDelivery& r,
                               std::ostream& out) {
  const std::int64_t now = unix_now(clock_);
  for (const auto& [domain, record] : gate.reportable) {
    const auto policies = store_.aggregates(day, domain);
    if (policies.empty()) continue;
    const auto built = tlsrpt::build_report(options_.meta, day, domain, policies);
    std::filesystem::create_directories(options_.outbox);
    // No fsync per report: a file lost in a crash is built again from the store (load_report).
    tlsrpt::write_report(options_.outbox, built, tlsrpt::Durability::none);
    if (deliver) {
      std::vector<tlsrpt::PlannedRua> rua;
      for (const auto& u : record.rua) rua.push_back({u.uri, u.target});
      store_.plan_deliveries(day, domain, built.report_id, built.file_name, rua, now);
    }
    ++r.reports;
  }
  if (r.reports > 0) tlsrpt::sync_outbox(options_.outbox);
  count_gate(gate, r);
  print_lookup_waits(day, gate, out);
}

DayDelivery Deliverer::plan_day(std::int64_t day, std::ostream& out, bool deliver, RetryFailed retry) {
  DayDelivery result;
  std::vector<std::string> domains = store_.policy_domains(day);
  const auto gate =
      check_records(store_, transport_, day, domains, unix_now(clock_), options_.backoff, retry);
  report_domains(day, gate, deliver, result, out);
  out << tlsrpt::day_string(day) << ": " << result.reports << (result.reports == 1 ? " report" : " reports")
      << " of " << domains.size() << (domains.size() == 1 ? " domain" : " domains");
  if (const auto s = skipped_summary(gate); !s.empty()) out << ", " << s;
  if (!gate.pending.empty()) out << ", " << gate.pending.size() << " waiting for a record lookup";
  if (!gate.gave_up.empty()) out << ", " << gate.gave_up.size() << " given up (record lookup failed)";
  out << "\n";
  return result;
}

DayDelivery Deliverer::retry_lookups(std::ostream& out, bool deliver) {
  DayDelivery result;
  const std::int64_t now = unix_now(clock_);
  std::map<std::int64_t, std::vector<std::string>> by_day;
  for (auto& r : store_.due_record_lookups(now)) by_day[r.day].push_back(std::move(r.domain));
  for (const auto& [day, domains] : by_day) {
    const auto gate = check_records(store_, transport_, day, domains, now, options_.backoff);
    report_domains(day, gate, deliver, result, out);
    for (const auto& [domain, record] : gate.reportable)
      out << domain << ": report of " << tlsrpt::day_string(day) << " built after a record lookup retry\n";
    for (const auto& [reason, n] : gate.skipped)
      out << tlsrpt::day_string(day) << ": record lookup retry: " << n << " without a valid record ("
          << reason << ")\n";
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
  tlsrpt::counters().attempt(d.rua, a.ok);
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
  const auto signer = make_dkim_signer(cfg);
  NetworkTransport transport(cfg, signer.get());
  SystemClock clock;
  Deliverer deliverer(store, transport, clock, delivery_options(cfg));
  auto planned = deliverer.plan_day(day, out, true, RetryFailed::now);
  auto r = deliverer.attempt_due(out, day);
  r.reports = planned.reports;
  return r;
}

}  // namespace tlsfence::rptd
