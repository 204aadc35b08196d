#pragma once
// The fleet database's schema: versioned, created and migrated by the programs themselves.
//
//   tlsfence_schema(id = 1, version, program, updated_at)   the version of everything below
//   tlsfence_hosts(host, program, pid, version, started_at, last_seen)        `db status`
//   tlsfence_policy_decisions(domain, format, decision JSON, decided_at, expires_at, valid_until, host)
//   tlsfence_sts_policies(domain, format, policy JSON, policy_id, fetched_at, max_age, expires_at, host)
// Schema 2, TLS-RPT for the fleet (src/rptd/fleet_reports.h):
//   tlsfence_tlsrpt_outcomes(day, domain, host, format, aggregate JSON, sessions, successes, failures)
//   tlsfence_tlsrpt_uploads(host, uploaded_through, last_upload, pending)   each rptd's upload mark
//   tlsfence_tlsrpt_days(day, builder, builder_pid, lease_until, built_at, reports)   the day's build lock
//   tlsfence_tlsrpt_reports(day, domain, report_id, file, report JSON, built_by, built_at)
//   tlsfence_tlsrpt_deliveries(day, domain, rua, target, created, state, next_attempt, attempts,
//                              failures, lease_host, lease_pid, lease_until, delivered_by)
//   tlsfence_tlsrpt_attempts(id, day, domain, rua, host, time, ok, detail, next_retry, gave_up)
//
// Times are Unix seconds. `format` is the row's encoding (kRowFormat); a row of a newer format
// is named in an error and ignored, never guessed at. Migrations run in one transaction under
// pg_advisory_xact_lock(kSchemaLock), so hosts starting together apply each step once; a
// database whose version is newer than kSchemaVersion is refused (the host stays single).
#include <string>

#include "fleet/pg.h"

namespace tlsfence::fleet {

inline constexpr int kSchemaVersion = 2;
inline constexpr int kRowFormat = 1;
inline constexpr long long kSchemaLock = 0x746c7366656e6365LL;  // "tlsfence"
// The NOTIFY channels: a domain resolved for the fleet; a cache-control request.
inline constexpr const char* kPolicyChannel = "tlsfence_policy";
inline constexpr const char* kControlChannel = "tlsfence_control";

struct Migration {
  enum class Status { ok, newer, failed } status = Status::failed;
  int found = 0;      // the version the database had
  std::string error;  // failed / newer: what to log
  bool connection_lost = false;
};

// Brings the schema to kSchemaVersion (or finds it newer). `program` is recorded.
Migration migrate(PGconn* conn, const std::string& program, SteadyTime deadline);

}  // namespace tlsfence::fleet
