#pragma once
// The `tlsfence` subcommands, called by the dispatcher (tlsfence_cli.cc) after the arguments
// were checked against INTERFACE.md's syntax. Each returns the exit status: 0 answered,
// 1 answered TEMP, 2 usage or config error. They print their answers to stdout and problems
// to stderr.
#include <string>
#include <vector>

#include "tlsfence/config.h"

namespace tlsfence {
namespace tlsrpt {
class Store;
}

// tlsfence query DOMAIN...          — `domains` has at least one element.
int cli_query(const tlsfence::Config&, const std::vector<std::string>& domains);
// tlsfence explain [--json] DOMAIN
int cli_explain(const tlsfence::Config&, bool json, const std::string& domain);
// tlsfence cache list|flush|refresh [DOMAIN] — args = {"list"|"flush"|"refresh"} or {…, DOMAIN}.
int cli_cache(const tlsfence::Config&, const std::vector<std::string>& args);
// tlsfence check [--json] DOMAIN
int cli_check(const tlsfence::Config&, bool json, const std::string& domain);
// tlsfence report … — args in a normal form, options always as two elements:
//   {"ingest", "--postfix-log", FILE} or {"ingest", "--sendmail-log", FILE}
//   {"build", "--day", "YYYY-MM-DD"} or {"build", "--day", "YYYY-MM-DD", "--out", DIR}
int cli_report(const tlsfence::Config&, const std::vector<std::string>& args);
// `tlsfence report build|send|list` with [fleet] postgresql: the fleet's (cli_report_fleet.cc).
int fleet_report(const tlsfence::Config&, const std::vector<std::string>& args);
// After `tlsfence report ingest` with [fleet] postgresql: upload what it stored (or say it waits).
void fleet_upload_ingested(const tlsfence::Config&, tlsrpt::Store& store);
// tlsfence db status — the fleet database ([fleet] postgresql): schema version, hosts seen.
int cli_db(const tlsfence::Config&, const std::vector<std::string>& args);
// `tlsfence cache flush [DOMAIN]` on the fleet database ("" = all): delete the stored rows and
// NOTIFY every host. Prints what it did; returns 0, or 2 with the reason on stderr. (cli_db.cc)
int fleet_cache_flush(const tlsfence::Config&, const std::string& domain);

}  // namespace tlsfence
