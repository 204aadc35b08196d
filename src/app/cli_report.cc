// `tlsfence report`: ingest a log file once (the sidecar's follower code, same position
// bookkeeping), build a day's reports into a directory, list what is stored (outcome totals
// and every delivery with its attempts), send a day's reports now. `list` and `send` go beyond
// INTERFACE.md's command list. With [fleet] postgresql, build, send and list are the fleet's
// (cli_report_fleet.cc), and ingest also uploads.
//
// `build` writes the reports that can be sent: one per policy domain with outcomes on that day
// that publishes exactly one valid `_smtp._tls` record (RFC 8460 §3), looked up once per
// (day, domain) and kept in tlsrpt.db (rptd/record_gate.h; the sidecar's daily job uses the
// same answers). Skipped domains are counted on stderr by reason; a domain whose lookup failed
// temporarily is named there and makes the exit status 1 (run again later). `build --all`
// writes every domain with outcomes, looks nothing up, and opens the store read-only.
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>

#include "app/cli_commands.h"
#include "rptd/attribution.h"
#include "rptd/delivery.h"
#include "rptd/follower.h"
#include "rptd/record_gate.h"
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
            << " too-long " << s.too_long << " own-reports " << s.own_reports << "\n";
  if (!cfg.fleet.postgresql.empty()) fleet_upload_ingested(cfg, store);
  return 0;
}

int report_build(const Config& cfg, const std::vector<std::string>& args) {
  const std::string& day_text = args[2];
  std::string out;
  bool all = false;
  for (std::size_t i = 3; i < args.size(); ++i) {
    if (args[i] == "--out" && i + 1 < args.size()) out = args[++i];
    if (args[i] == "--all") all = true;
  }
  const auto day = tlsrpt::parse_day(day_text);
  if (!day) {
    std::fprintf(stderr, "tlsfence: report build: bad day %s\n", day_text.c_str());
    return 2;
  }
  if (out.empty()) out = cfg.tlsrpt.outbox;
  const tlsrpt::ReportMeta meta{cfg.tlsrpt.organization_name, cfg.tlsrpt.contact_info, cfg.tlsrpt.submitter};
  if (all) {
    tlsrpt::Store store(cfg.tlsrpt.db, tlsrpt::Store::Mode::read_only);
    std::filesystem::create_directories(out);
    for (const auto& d : store.day_aggregates(*day)) {
      const auto built = tlsrpt::build_report(meta, *day, d.policy_domain, d.policies);
      std::cout << tlsrpt::write_report(out, built, tlsrpt::Durability::none).string() << "\n";
    }
    tlsrpt::sync_outbox(out);  // once, not one fsync per report
    return 0;
  }
  tlsrpt::Store store(cfg.tlsrpt.db);  // the record lookups are kept
  rptd::NetworkTransport transport(cfg);
  const auto domains = store.policy_domains(*day);
  const auto gate =
      rptd::check_records(store, transport, *day, domains, static_cast<std::int64_t>(std::time(nullptr)),
                          rptd::Backoff{}, rptd::RetryFailed::now);
  std::filesystem::create_directories(out);
  for (const auto& [domain, record] : gate.reportable) {
    const auto built = tlsrpt::build_report(meta, *day, domain, store.aggregates(*day, domain));
    std::cout << tlsrpt::write_report(out, built, tlsrpt::Durability::none).string() << "\n";
  }
  tlsrpt::sync_outbox(out);
  if (const auto s = rptd::skipped_summary(gate); !s.empty())
    std::fprintf(stderr, "tlsfence: report build: %s; --all writes them too\n", s.c_str());
  for (const auto& p : gate.pending)
    std::fprintf(stderr, "tlsfence: report build: %s: record lookup failed temporarily (%s), not written\n",
                 p.domain.c_str(), p.detail.c_str());
  for (const auto& p : gate.gave_up)
    std::fprintf(stderr, "tlsfence: report build: %s: record lookup failing since %s (%s), not written\n",
                 p.domain.c_str(), tlsrpt::rfc3339_utc(p.first_checked).c_str(), p.detail.c_str());
  return gate.pending.empty() && gate.gave_up.empty() ? 0 : 1;
}

int report_send(const Config& cfg, const std::string& day_text) {
  const auto day = tlsrpt::parse_day(day_text);
  if (!day) {
    std::fprintf(stderr, "tlsfence: report send: bad day %s\n", day_text.c_str());
    return 2;
  }
  tlsrpt::Store store(cfg.tlsrpt.db);  // attempts are recorded
  const auto r = rptd::deliver_day(cfg, store, *day, std::cout);
  return r.failed == 0 ? 0 : 1;
}

std::string time_text(std::int64_t t) {
  return t > 0 ? tlsrpt::rfc3339_utc(t) : "-";
}

// Per (day, domain): the outcome totals, then per report file its rua, each with its state,
// attempt count, next retry, and every attempt (time, ok|fail, detail).
int report_list(const Config& cfg) {
  tlsrpt::Store store(cfg.tlsrpt.db, tlsrpt::Store::Mode::read_only);
  std::map<std::pair<std::int64_t, std::string>, std::pair<std::uint64_t, std::uint64_t>> totals;
  for (const auto& s : store.summary())
    totals[{s.day, s.policy_domain}] = {s.successful_sessions, s.failed_sessions};
  std::map<std::pair<std::int64_t, std::string>, std::vector<tlsrpt::Delivery>> deliveries;
  for (auto& d : store.deliveries()) {
    totals.try_emplace({d.day, d.policy_domain}, 0, 0);  // outcomes pruned, deliveries kept
    deliveries[{d.day, d.policy_domain}].push_back(std::move(d));
  }
  for (const auto& [key, total] : totals) {
    std::cout << tlsrpt::day_string(key.first) << " " << key.second << " success " << total.first
              << " failure " << total.second << "\n";
    auto it = deliveries.find(key);
    if (it == deliveries.end()) continue;
    std::string file;
    for (const auto& d : it->second) {
      if (d.file != file) {
        file = d.file;
        std::cout << "  report " << d.file << " (id " << d.report_id << ")\n";
      }
      std::cout << "    rua " << d.rua << "  " << tlsrpt::to_string(d.state) << ", " << d.attempts
                << (d.attempts == 1 ? " attempt" : " attempts") << ", next retry "
                << (d.state == tlsrpt::DeliveryState::pending ? time_text(d.next_attempt) : "-") << "\n";
      for (const auto& a : store.attempts(d.id)) {
        std::cout << "      " << time_text(a.time) << " " << (a.ok ? "ok  " : "fail") << " " << a.detail;
        if (a.gave_up) std::cout << " (given up)";
        std::cout << "\n";
      }
    }
  }
  return 0;
}

}  // namespace

int cli_report(const Config& cfg, const std::vector<std::string>& args) {
  try {
    if (args.size() == 3 && args[0] == "ingest") return report_ingest(cfg, args[1], args[2]);
    const bool fleet_form = (args.size() >= 3 && args[0] == "build") ||
                            (args.size() == 1 && args[0] == "list") ||
                            (args.size() == 3 && args[0] == "send");
    if (fleet_form && !cfg.fleet.postgresql.empty()) return fleet_report(cfg, args);
    if (args.size() >= 3 && args[0] == "build") return report_build(cfg, args);
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
