// TLS-RPT benchmarks, run by hand (not a ctest case):
//   1. Postfix log ingestion: lines/s through PostfixCorrelator over a generated log that looks
//      like a busy relay's maillog (mostly non-TLS lines; smtp TLS + delivery lines mixed in).
//   2. Report build: 100,000 policy domains in the store → JSON + gzip + file in an outbox.
// Usage: bench_tlsrpt [log-lines (default 2000000)] [domains (default 100000)] [work-dir (default /tmp)]
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "parse/postfix_log.h"
#include "tlsrpt/correlator.h"
#include "tlsrpt/report.h"
#include "tlsrpt/store.h"

using namespace tlsfence;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU seconds (user + system) of this process: the machine is shared, wall time is noisy.
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// A realistic mix: for every outbound TLS delivery (3 smtp lines) a relay logs many other
// lines (smtpd connect/TLS/disconnect, cleanup, qmgr, dovecot, cron, kernel…).
std::string generate_log(std::size_t lines, std::size_t& smtp_lines) {
  std::mt19937 rng(42);
  std::string log;
  log.reserve(lines * 170);
  std::size_t n = 0, pid = 20000, q = 0x10000;
  smtp_lines = 0;
  auto add = [&](const std::string& l) {
    log += l;
    log += '\n';
    ++n;
  };
  const char* noise[] = {
      "Nov 22 06:47:50 mail postfix/smtpd[1234]: connect from unknown[198.51.100.23]",
      "Nov 22 06:47:50 mail postfix/smtpd[1234]: Anonymous TLS connection established from "
      "unknown[198.51.100.23]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519",
      "Nov 22 06:47:50 mail postfix/smtpd[1234]: 4Bv2Yq0bHVz9vF: client=unknown[198.51.100.23]",
      "Nov 22 06:47:50 mail postfix/cleanup[2345]: 4Bv2Yq0bHVz9vF: "
      "message-id=<20261122064750.123@example.org>",
      "Nov 22 06:47:50 mail postfix/qmgr[999]: 4Bv2Yq0bHVz9vF: from=<alice@example.org>, size=4242, nrcpt=1 "
      "(queue active)",
      "Nov 22 06:47:50 mail postfix/smtpd[1234]: disconnect from unknown[198.51.100.23] ehlo=2 starttls=1 "
      "mail=1 "
      "rcpt=1 data=1 quit=1 commands=7",
      "Nov 22 06:47:50 mail dovecot: imap-login: Login: user=<bob>, method=PLAIN, rip=192.0.2.44, "
      "lip=192.0.2.1, "
      "mpid=4444, TLS, session=<abcdEFGH>",
      "Nov 22 06:47:50 mail postfix/qmgr[999]: 4Bv2Yq0bHVz9vF: removed",
      "Nov 22 06:47:50 mail CRON[5555]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
      "Nov 22 06:47:50 mail postfix/postscreen[777]: CONNECT from [203.0.113.9]:51234 to [192.0.2.1]:25",
      "Nov 22 06:47:50 mail postfix/anvil[888]: statistics: max connection rate 3/60s for (smtp:203.0.113.9)",
      "Nov 22 06:47:50 mail opendkim[666]: 4Bv2Yq0bHVz9vF: DKIM-Signature field added (s=mail, "
      "d=example.org)",
  };
  while (n < lines) {
    for (int i = 0; i < 9 && n < lines; ++i) add(noise[rng() % (sizeof noise / sizeof noise[0])]);
    if (n + 3 > lines) break;
    ++pid;
    ++q;
    std::string dom = "d" + std::to_string(rng() % 5000) + ".example";
    std::string p = std::to_string(pid % 300 + 20000);
    char qid[16];
    std::snprintf(qid, sizeof qid, "%X", static_cast<unsigned>(q));
    if (rng() % 20 == 0) {
      add("Nov 22 06:47:51 mail postfix/smtp[" + p + "]: certificate verification failed for mx1." + dom +
          "[192.0.2.7]:25: untrusted issuer /CN=Some CA");
    } else {
      add("Nov 22 06:47:51 mail postfix/smtp[" + p + "]: Verified TLS connection established to mx1." + dom +
          "[192.0.2.7]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 "
          "server-signature ECDSA (P-256) server-digest SHA256");
    }
    add("Nov 22 06:47:51 mail postfix/smtp[" + p + "]: " + qid + ": to=<user@" + dom + ">, relay=mx1." + dom +
        "[192.0.2.7]:25, delay=0.42, delays=0.05/0.01/0.3/0.06, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued "
        "as "
        "1A2B3C4D5E)");
    add("Nov 22 06:47:51 mail postfix/qmgr[999]: " + std::string(qid) + ": removed");
    smtp_lines += 2;
  }
  return log;
}

void bench_ingestion(std::size_t lines) {
  std::size_t smtp = 0;
  std::string log = generate_log(lines, smtp);
  std::printf("log: %zu lines (%zu postfix/smtp lines), %.1f MB\n", lines, smtp, log.size() / 1e6);
  // Parse only.
  {
    auto t0 = Clock::now();
    double c0 = cpu_seconds();
    std::size_t events = 0;
    std::string_view rest(log);
    while (!rest.empty()) {
      auto nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
      if (parse::parse_postfix_line(line)) ++events;
    }
    double s = seconds_since(t0), cpu = cpu_seconds() - c0;
    std::printf("parse_postfix_line:      %10.0f lines/s wall, %10.0f lines/s CPU  (%zu events, %.3f s)\n",
                lines / s, lines / cpu, events, s);
  }
  // Parse + correlate.
  {
    tlsrpt::PostfixCorrelator c;
    std::vector<tlsrpt::Outcome> out;
    out.reserve(lines / 10);
    auto t0 = Clock::now();
    double c0 = cpu_seconds();
    std::string_view rest(log);
    while (!rest.empty()) {
      auto nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
      c.feed(line, 1795330070, out);
    }
    double s = seconds_since(t0), cpu = cpu_seconds() - c0;
    std::printf(
        "PostfixCorrelator::feed: %10.0f lines/s wall, %10.0f lines/s CPU  (%zu outcomes, %llu "
        "uncorrelated, %.3f s)\n",
        lines / s, lines / cpu, out.size(), static_cast<unsigned long long>(c.stats().uncorrelated), s);
  }
}

void bench_reports(std::size_t domains, const std::filesystem::path& work) {
  auto dir = work / ("tlsrpt-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "outbox");
  const std::int64_t day = 20779;
  {
    tlsrpt::Store store((dir / "tlsrpt.db").string());
    auto t0 = Clock::now();
    std::vector<tlsrpt::Outcome> batch;
    for (std::size_t i = 0; i < domains; ++i) {
      std::string d = "domain" + std::to_string(i) + ".example";
      tlsrpt::Outcome o;
      o.day = day;
      o.policy_domain = d;
      o.policy = {TlsrptPolicyType::sts,
                  {"version: STSv1", "mode: enforce", "mx: *." + d, "max_age: 604800"},
                  d,
                  {"*." + d}};
      o.mx_host = "mx1." + d;
      o.receiving_ip = "192.0.2." + std::to_string(i % 250 + 1);
      for (int k = 0; k < 5; ++k) batch.push_back(o);
      if (i % 10 == 0) {
        o.failure = TlsrptResult::certificate_expired;
        o.failure_reason_code = "certificate has expired";
        batch.push_back(o);
      }
      if (batch.size() >= 50'000) {
        store.add(batch);
        batch.clear();
      }
    }
    store.add(batch);
    std::printf("store: %zu domains loaded in %.2f s (not part of the figure below)\n", domains,
                seconds_since(t0));
  }
  tlsrpt::ReportMeta meta{"Bench Org", "mailto:tlsrpt@bench.example", "mail.bench.example"};
  auto t0 = Clock::now();
  double c0 = cpu_seconds();
  tlsrpt::Store store((dir / "tlsrpt.db").string(), tlsrpt::Store::Mode::read_only);
  auto all = store.day_aggregates(day);
  double load = seconds_since(t0);
  std::size_t bytes = 0;
  std::vector<tlsrpt::BuiltReport> built;
  built.reserve(all.size());
  for (const auto& d : all) {
    built.push_back(tlsrpt::build_report(meta, day, d.policy_domain, d.policies));
    bytes += built.back().gzip.size();
  }
  double build = seconds_since(t0), build_cpu = cpu_seconds() - c0;
  for (const auto& r : built) tlsrpt::write_report(dir / "outbox", r, tlsrpt::Durability::none);
  tlsrpt::sync_outbox(dir / "outbox");
  double s = seconds_since(t0), cpu = cpu_seconds() - c0;
  std::printf(
      "reports: %zu domains read, built, gzip'ed and written in %.2f s wall, %.2f s CPU (%.2f s CPU to read "
      "+ "
      "build)\n"
      "         (store read done at %.2f s, JSON+gzip done at %.2f s, files written and synced at %.2f s;"
      " %.1f MB gzip)\n",
      all.size(), s, cpu, build_cpu, load, build, s, bytes / 1e6);
  std::filesystem::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t lines = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2'000'000;
  std::size_t domains = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100'000;
  std::filesystem::path work = argc > 3 ? argv[3] : "/tmp";
  bench_ingestion(lines);
  bench_reports(domains, work);
  return 0;
}
