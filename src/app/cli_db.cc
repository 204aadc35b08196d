// `tlsfence db status` and the fleet half of `tlsfence cache flush` — the command line's use of
// the fleet database ([fleet] postgresql). One short-lived FleetClient (no LISTEN, no host row),
// every statement bounded by [dns] timeout.
//
// db status prints the connection string (redacted), the schema version (and whether this
//           program knows it), and every host seen: name, program, version, pid, last seen.
//           Exit 0; 2 when [fleet] postgresql is empty or the database cannot be asked.
#include <ctime>
#include <iostream>

#include "app/cli_commands.h"
#include "app/fleet_link.h"
#include "fleet/client.h"
#include "fleet/conninfo.h"
#include "fleet/policy_store.h"
#include "fleet/schema.h"

namespace tlsfence {
namespace {

std::string utc(std::int64_t s) {
  const std::time_t t = static_cast<std::time_t>(s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Runs `statements` on a fresh connection; false (reason on stderr) when that fails.
bool ask(const Config& cfg, const char* what, std::vector<fleet::Statement> statements, fleet::Outcome& out) {
  fleet::FleetClient::Options o = fleet_client_options(cfg, "tlsfence");
  o.listen = false;
  o.register_host = false;
  fleet::FleetClient client(o, {});
  client.start();
  const fleet::LinkState state = client.wait_started(o.connect_timeout + std::chrono::seconds(1));
  if (state != fleet::LinkState::up) {
    std::cerr << "tlsfence: " << what << ": the fleet database ("
              << fleet::redact_conninfo(cfg.fleet.postgresql) << ") is " << fleet::to_string(state)
              << " (see the log lines above)\n";
    return false;
  }
  const auto timeout = std::chrono::seconds(cfg.dns.timeout_seconds);
  bool done = false;
  client.submit(std::move(statements), std::chrono::steady_clock::now() + timeout, [&](fleet::Outcome r) {
    out = std::move(r);
    done = true;
  });
  client.drain(timeout + std::chrono::seconds(1));
  client.stop();
  if (!done || !out.ok) {
    std::cerr << "tlsfence: " << what << ": " << (done ? out.error : "no answer from the fleet database")
              << "\n";
    return false;
  }
  return true;
}

}  // namespace

int cli_db(const Config& cfg, const std::vector<std::string>& /*args: {"status"}*/) {
  if (cfg.fleet.postgresql.empty()) {
    std::cerr << "tlsfence: db status: [fleet] postgresql is empty (this host is not part of a fleet)\n";
    return 2;
  }
  fleet::Outcome schema, hosts;
  if (!ask(cfg, "db status", {{"SELECT version, program, updated_at FROM tlsfence_schema WHERE id = 1", {}}},
           schema))
    return 2;
  if (!ask(cfg, "db status",
           {{"SELECT host, program, coalesce(version, ''), coalesce(pid, 0), last_seen FROM tlsfence_hosts "
             "ORDER BY host, program",
             {}}},
           hosts))
    return 2;
  std::cout << "database\t" << fleet::redact_conninfo(cfg.fleet.postgresql) << "\n";
  if (!schema.rows.empty()) {
    const auto& r = schema.rows[0];
    const int version = std::atoi(r[0].value_or("0").c_str());
    std::cout << "schema\t" << version
              << (version > fleet::kSchemaVersion ? " (newer than this program's " : " (")
              << (version > fleet::kSchemaVersion ? std::to_string(fleet::kSchemaVersion) + ")" : "current)")
              << " by " << r[1].value_or("?") << " at " << utc(std::atoll(r[2].value_or("0").c_str()))
              << "\n";
  }
  for (const auto& r : hosts.rows) {
    std::cout << "host\t" << r[0].value_or("") << "\t" << r[1].value_or("")
              << "\tversion=" << r[2].value_or("") << "\tpid=" << r[3].value_or("")
              << "\tlast_seen=" << utc(std::atoll(r[4].value_or("0").c_str())) << "\n";
  }
  return 0;
}

int fleet_cache_flush(const Config& cfg, const std::string& domain) {
  const std::string host = fleet_client_options(cfg, "tlsfence").host;
  fleet::Outcome out;
  if (!ask(cfg, "cache flush", fleet::flush_statements(domain, host), out)) return 2;
  std::cout << "flushed " << (domain.empty() ? std::string("every domain") : domain)
            << " from the fleet database; every running tlsfenced of the fleet was notified\n";
  return 0;
}

}  // namespace tlsfence
