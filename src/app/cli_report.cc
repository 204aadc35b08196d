// `tlsfence report`: ingest a log file once (the sidecar's follower code, same position
// bookkeeping), build a day's reports into a directory, list what is stored.
//
// `build` writes one report per policy domain that has outcomes on that day, whether or not
// the domain publishes an `_smtp._tls` record: writing a file sends nothing, and the operator
// may want to look at it. Only delivery needs the record's rua.
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "app/cli_commands.h"
#include "rptd/attribution.h"
#include "rptd/delivery.h"
#include "rptd/follower.h"
#include "tlsrpt/report.h"
#include "tlsrpt/store.h"

namespace tlsfence {
namespace {

int report_ingest(const Config& cfg, const std::string& option, const std::string& file) {
  tlsrpt::Store store(cfg.tlsrpt.db);
  rptd::Attributor attributor(cfg.cache.db);
  rptd::LogFollower follower(
      file, option == "--postfix-log" ? rptd::LogKind::postfix : rptd::LogKind::sendmail, store, attributor);
  if (!std::filesystem::exists(file)) {
    std::fprintf(stderr, "tlsfence: report ingest: %s: no such file\n", file.c_str());
    return 2;
  }
  const auto r = follower.poll();
  const auto& s = follower.stats();
  std::cout << "lines " << r.lines << " outcomes " << r.outcomes << " uncorrelated " << s.uncorrelated
            << " too-long " << s.too_long << "\n";
  return 0;
}

int report_build(const Config& cfg, const std::string& day_text, std::string out) {
  const auto day = tlsrpt::parse_day(day_text);
  if (!day) {
    std::fprintf(stderr, "tlsfence: report build: bad day %s\n", day_text.c_str());
    return 2;
  }
  if (out.empty()) out = cfg.tlsrpt.outbox;
  tlsrpt::Store store(cfg.tlsrpt.db, tlsrpt::Store::Mode::read_only);
  const tlsrpt::ReportMeta meta{cfg.tlsrpt.organization_name, cfg.tlsrpt.contact_info, cfg.tlsrpt.submitter};
  std::filesystem::create_directories(out);
  for (const auto& d : store.day_aggregates(*day)) {
    const auto built = tlsrpt::build_report(meta, *day, d.policy_domain, d.policies);
    std::cout << tlsrpt::write_report(out, built).string() << "\n";
  }
  return 0;
}

int report_send(const Config& cfg, const std::string& day_text) {
  const auto day = tlsrpt::parse_day(day_text);
  if (!day) {
    std::fprintf(stderr, "tlsfence: report send: bad day %s\n", day_text.c_str());
    return 2;
  }
  tlsrpt::Store store(cfg.tlsrpt.db, tlsrpt::Store::Mode::read_only);
  const auto r = rptd::deliver_day(cfg, store, *day, std::cout);
  return r.failed == 0 ? 0 : 1;
}

int report_list(const Config& cfg) {
  tlsrpt::Store store(cfg.tlsrpt.db, tlsrpt::Store::Mode::read_only);
  for (const auto& s : store.summary()) {
    std::cout << tlsrpt::day_string(s.day) << " " << s.policy_domain << " success " << s.successful_sessions
              << " failure " << s.failed_sessions << "\n";
  }
  for (const auto& a : rptd::read_attempts(cfg.tlsrpt.outbox)) {
    std::cout << "delivery " << a.day << " " << a.domain << " " << a.uri << " " << (a.ok ? "ok" : "fail")
              << " at " << a.unix_time << " " << a.detail << "\n";
  }
  return 0;
}

}  // namespace

int cli_report(const Config& cfg, const std::vector<std::string>& args) {
  try {
    if (args.size() == 3 && args[0] == "ingest") return report_ingest(cfg, args[1], args[2]);
    if (args.size() >= 3 && args[0] == "build")
      return report_build(cfg, args[2], args.size() == 5 ? args[4] : "");
    if (args.size() == 1 && args[0] == "list") return report_list(cfg);
    if (args.size() == 3 && args[0] == "send") return report_send(cfg, args[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tlsfence: report: %s\n", e.what());
    return 2;
  }
  std::fprintf(stderr, "tlsfence: report: unsupported arguments\n");
  return 2;
}

}  // namespace tlsfence
