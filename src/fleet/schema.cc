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
