// Schema creation and migrations under an advisory lock (see schema.h).
#include "fleet/schema.h"

#include <array>
#include <cstdlib>

namespace tlsfence::fleet {
namespace {

// migrations[i] takes the schema from version i to i + 1.
const std::array<const char*, kSchemaVersion> kMigrations = {
    R"SQL(
CREATE TABLE tlsfence_hosts (
  host text NOT NULL, program text NOT NULL, pid integer, version text,
  started_at bigint, last_seen bigint NOT NULL, PRIMARY KEY (host, program));
CREATE TABLE tlsfence_policy_decisions (
  domain text PRIMARY KEY, format integer NOT NULL, decision text NOT NULL,
  decided_at bigint NOT NULL, expires_at bigint NOT NULL, valid_until bigint NOT NULL,
  host text NOT NULL, written_at bigint NOT NULL);
CREATE INDEX tlsfence_policy_decisions_valid_until ON tlsfence_policy_decisions (valid_until);
CREATE TABLE tlsfence_sts_policies (
  domain text PRIMARY KEY, format integer NOT NULL, policy text NOT NULL, policy_id text NOT NULL,
  fetched_at bigint NOT NULL, max_age bigint NOT NULL, expires_at bigint NOT NULL,
  host text NOT NULL, written_at bigint NOT NULL);
CREATE INDEX tlsfence_sts_policies_expires_at ON tlsfence_sts_policies (expires_at);
)SQL",
    // 2: TLS-RPT for the fleet (src/rptd/fleet_reports.h).
    R"SQL(
CREATE TABLE tlsfence_tlsrpt_outcomes (
  day bigint NOT NULL, domain text NOT NULL, host text NOT NULL, format integer NOT NULL,
  aggregate text NOT NULL, sessions bigint NOT NULL, successes bigint NOT NULL,
  failures bigint NOT NULL, uploaded_at bigint NOT NULL, PRIMARY KEY (day, domain, host));
CREATE TABLE tlsfence_tlsrpt_uploads (
  host text PRIMARY KEY, uploaded_through bigint NOT NULL, last_upload bigint NOT NULL,
  pending bigint NOT NULL);
CREATE TABLE tlsfence_tlsrpt_days (
  day bigint PRIMARY KEY, builder text NOT NULL, builder_pid integer NOT NULL,
  lease_until bigint NOT NULL, built_at bigint, reports integer);
CREATE TABLE tlsfence_tlsrpt_reports (
  day bigint NOT NULL, domain text NOT NULL, report_id text NOT NULL, file text NOT NULL,
  report text NOT NULL, built_by text NOT NULL, built_at bigint NOT NULL, PRIMARY KEY (day, domain));
CREATE TABLE tlsfence_tlsrpt_deliveries (
  day bigint NOT NULL, domain text NOT NULL, rua text NOT NULL, target text NOT NULL,
  created bigint NOT NULL, state text NOT NULL, next_attempt bigint NOT NULL,
  attempts integer NOT NULL DEFAULT 0, failures integer NOT NULL DEFAULT 0,
  lease_host text, lease_pid integer, lease_until bigint, delivered_by text,
  PRIMARY KEY (day, domain, rua));
CREATE INDEX tlsfence_tlsrpt_deliveries_due ON tlsfence_tlsrpt_deliveries (state, next_attempt);
CREATE TABLE tlsfence_tlsrpt_attempts (
  id bigserial PRIMARY KEY, day bigint NOT NULL, domain text NOT NULL, rua text NOT NULL,
  host text NOT NULL, time bigint NOT NULL, ok boolean NOT NULL, detail text NOT NULL,
  next_retry bigint, gave_up boolean NOT NULL);
CREATE INDEX tlsfence_tlsrpt_attempts_of ON tlsfence_tlsrpt_attempts (day, domain, rua, id);
)SQL",
};

}  // namespace

Migration migrate(PGconn* conn, const std::string& program, SteadyTime deadline) {
  Migration m;
  auto fail = [&](const Outcome& o, const char* step) {
    m.status = Migration::Status::failed;
    m.error = std::string(step) + ": " + o.error;
    m.connection_lost = o.connection_lost;
    if (!o.connection_lost) run(conn, {{"ROLLBACK", {}}}, deadline);
    return m;
  };
  Outcome o = run(conn,
                  {{"BEGIN", {}},
                   {"SELECT pg_advisory_xact_lock($1)", {std::to_string(kSchemaLock)}},
                   {"CREATE TABLE IF NOT EXISTS tlsfence_schema (id integer PRIMARY KEY CHECK (id = 1), "
                    "version integer NOT NULL, program text NOT NULL, updated_at bigint NOT NULL)",
                    {}},
                   {"SELECT version FROM tlsfence_schema WHERE id = 1", {}}},
                  deadline);
  if (!o.ok) return fail(o, "reading the schema version");
  m.found = o.rows.empty() || !o.rows[0][0] ? 0 : std::atoi(o.rows[0][0]->c_str());
  if (m.found > kSchemaVersion) {
    run(conn, {{"ROLLBACK", {}}}, deadline);
    m.status = Migration::Status::newer;
    m.error = "the fleet database has schema version " + std::to_string(m.found) +
              ", newer than this program's " + std::to_string(kSchemaVersion) +
              " (a newer tlsfence migrated it): running as a single host until this one is upgraded";
    return m;
  }
  for (int v = m.found; v < kSchemaVersion; ++v) {
    o = run(conn, {{kMigrations[static_cast<std::size_t>(v)], {}}}, deadline);
    if (!o.ok) return fail(o, ("migrating to schema version " + std::to_string(v + 1)).c_str());
  }
  if (m.found != kSchemaVersion) {
    o = run(conn,
            {{"INSERT INTO tlsfence_schema (id, version, program, updated_at) VALUES "
              "(1, $1, $2, extract(epoch FROM now())::bigint) ON CONFLICT (id) DO UPDATE SET "
              "version = EXCLUDED.version, program = EXCLUDED.program, updated_at = EXCLUDED.updated_at",
              {std::to_string(kSchemaVersion), program}}},
            deadline);
    if (!o.ok) return fail(o, "recording the schema version");
  }
  o = run(conn, {{"COMMIT", {}}}, deadline);
  if (!o.ok) return fail(o, "committing the schema");
  m.status = Migration::Status::ok;
  return m;
}

}  // namespace tlsfence::fleet
