// `tlsfence report` with [fleet] postgresql: the fleet's outcomes, reports and deliveries
// (rptd/fleet_reports.h), through one short-lived fleet client (no LISTEN, no host row).
//
//   ingest  imports into this host's tlsrpt.db as on a single host, then uploads what it marked
//           (the database unreachable: the outcomes stay in tlsrpt.db, the sidecar uploads them)
//   build   writes the day's reports of the fleet (every host's outcomes summed); sends nothing
//   send    uploads, builds the day for the fleet unless a host did, then delivers every rua of
//           the day not delivered yet whose lease is free; a rua another process is delivering
//           is left to it (said so): two hosts sending at once deliver each rua once
//   list    the fleet's state: totals and per-host counts, reports, rua, leases, attempts
// Exit status: 0 done, 1 something failed (a rua, a record lookup, the database), 2 usage.
#include <ctime>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "app/cli_commands.h"
#include "app/fleet_link.h"
#include "fleet/conninfo.h"
#include "rptd/dkim_signer.h"
#include "rptd/fleet_reports.h"
#include "rptd/record_gate.h"
#include "tlsrpt/report.h"

namespace tlsfence {
namespace {

// The client and the FleetReports of one command.
struct FleetCli {
  FleetCli(const Config& cfg, tlsrpt::Store& store) : options(fleet_client_options(cfg, "tlsfence")) {
    options.listen = false;
    options.register_host = false;
    client = std::make_unique<fleet::FleetClient>(options, fleet::FleetClient::Notify{});
    client->start();
    state = client->wait_started(options.connect_timeout + std::chrono::seconds(1));
    reports = std::make_unique<rptd::FleetReports>(*client, store, clock, rptd::delivery_options(cfg),
                                                   rptd::fleet_options(options.host));
  }
  ~FleetCli() { client->stop(); }
  bool up(const Config& cfg, const char* what) const {
    if (state == fleet::LinkState::up) return true;
    std::cerr << "tlsfence: report " << what << ": the fleet database ("
              << fleet::redact_conninfo(cfg.fleet.postgresql) << ") is " << fleet::to_string(state)
              << " (see the log lines above)\n";
    return false;
  }
  fleet::FleetClient::Options options;
  SystemClock clock;
  std::unique_ptr<fleet::FleetClient> client;
  fleet::LinkState state = fleet::LinkState::starting;
  std::unique_ptr<rptd::FleetReports> reports;
};

int fleet_build(const Config& cfg, std::int64_t day, const std::string& out_dir, bool all) {
  tlsrpt::Store store(cfg.tlsrpt.db);  // the record lookups are kept
  FleetCli f(cfg, store);
  if (!f.up(cfg, "build")) return 1;
  std::string error;
  auto aggregates = f.reports->day_aggregates(day, {}, std::cerr, error);
  if (!aggregates) {
    std::cerr << "tlsfence: report build: " << error << "\n";
    return 1;
  }
  const tlsrpt::ReportMeta meta{cfg.tlsrpt.organization_name, cfg.tlsrpt.contact_info, cfg.tlsrpt.submitter};
  std::filesystem::create_directories(out_dir);
  if (all) {
    for (const auto& [domain, policies] : *aggregates)
      std::cout << tlsrpt::write_report(out_dir, tlsrpt::build_report(meta, day, domain, policies),
                                        tlsrpt::Durability::none)
                       .string()
                << "\n";
    tlsrpt::sync_outbox(out_dir);  // once, not one fsync per report
    return 0;
  }
  std::vector<std::string> domains;
  for (const auto& [domain, p] : *aggregates) domains.push_back(domain);
  rptd::NetworkTransport transport(cfg);
  const auto gate =
      rptd::check_records(store, transport, day, domains, static_cast<std::int64_t>(std::time(nullptr)),
                          rptd::Backoff{}, rptd::RetryFailed::now);
  for (const auto& [domain, record] : gate.reportable)
    std::cout << tlsrpt::write_report(out_dir, tlsrpt::build_report(meta, day, domain, (*aggregates)[domain]),
                                      tlsrpt::Durability::none)
                     .string()
              << "\n";
  tlsrpt::sync_outbox(out_dir);
  if (const auto s = rptd::skipped_summary(gate); !s.empty())
    std::cerr << "tlsfence: report build: " << s << "; --all writes them too\n";
  std::ostringstream waits;
  rptd::print_lookup_waits(day, gate, waits);
  std::cerr << waits.str();
  return gate.pending.empty() && gate.gave_up.empty() ? 0 : 1;
}

int fleet_send(const Config& cfg, std::int64_t day) {
  tlsrpt::Store store(cfg.tlsrpt.db);
  FleetCli f(cfg, store);
  if (!f.up(cfg, "send")) return 1;
  const auto signer = rptd::make_dkim_signer(cfg);
  rptd::NetworkTransport transport(cfg, signer.get());
  const auto built =
      f.reports->build_day(day, transport, std::cout, true, std::nullopt, rptd::RetryFailed::now);
  const auto r = f.reports->attempt_due(transport, std::cout, day);
  return built.state == rptd::BuildState::failed || r.failed > 0 ? 1 : 0;
}

int fleet_list(const Config& cfg) {
  // The fleet's state is all in PostgreSQL: a host whose sidecar never ran has no tlsrpt.db.
  tlsrpt::Store store(std::filesystem::exists(cfg.tlsrpt.db) ? cfg.tlsrpt.db : ":memory:",
                      std::filesystem::exists(cfg.tlsrpt.db) ? tlsrpt::Store::Mode::read_only
                                                             : tlsrpt::Store::Mode::read_write);
  FleetCli f(cfg, store);
  if (!f.up(cfg, "list")) return 1;
  std::string error;
  if (!f.reports->list(std::cout, error)) {
    std::cerr << "tlsfence: report list: " << error << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int fleet_report(const Config& cfg, const std::vector<std::string>& args) {
  if (args[0] == "list") return fleet_list(cfg);
  const auto day = tlsrpt::parse_day(args[2]);
  if (!day) {
    std::cerr << "tlsfence: report " << args[0] << ": bad day " << args[2] << "\n";
    return 2;
  }
  if (args[0] == "send") return fleet_send(cfg, *day);
  std::string out = cfg.tlsrpt.outbox;
  bool all = false;
  for (std::size_t i = 3; i < args.size(); ++i) {
    if (args[i] == "--out" && i + 1 < args.size()) out = args[++i];
    if (args[i] == "--all") all = true;
  }
  return fleet_build(cfg, *day, out, all);
}

void fleet_upload_ingested(const Config& cfg, tlsrpt::Store& store) {
  FleetCli f(cfg, store);
  if (!f.up(cfg, "ingest")) {
    std::cerr << "tlsfence: report ingest: the outcomes are kept in " << cfg.tlsrpt.db
              << "; tlsfence-rptd uploads them when the fleet database is back\n";
    return;
  }
  const auto r = f.reports->upload();
  if (r.ok)
    std::cout << "uploaded " << r.uploaded << " (day, domain) aggregates to the fleet database\n";
  else
    std::cerr << "tlsfence: report ingest: upload to the fleet database failed (" << r.error << "); "
              << r.remaining << " kept in " << cfg.tlsrpt.db << " for tlsfence-rptd to upload\n";
}

}  // namespace tlsfence
