// cache.db schema and row decoding (see cache_schema.h). Rows are input from disk: a row
// that does not decode is skipped with a log line, never trusted, never a crash.
#include "store/cache_schema.h"

#include <iterator>

#include "policy/decision_json.h"

namespace tlsfence::store {
namespace {

// kMigrations[i] takes the schema from version i to i + 1.
constexpr const char* kMigrations[] = {
    "CREATE TABLE IF NOT EXISTS decision ("
    "  domain TEXT PRIMARY KEY NOT NULL,"
    "  json TEXT NOT NULL,"
    "  decided_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  valid_until INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS sts_policy ("
    "  domain TEXT PRIMARY KEY NOT NULL,"
    "  json TEXT NOT NULL,"
    "  fetched_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL) WITHOUT ROWID;",
    // 2: the control channel of `tlsfence cache flush|refresh` (store/control.h).
    "CREATE TABLE IF NOT EXISTS daemon ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  pid INTEGER NOT NULL,"
    "  started_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS control ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  op TEXT NOT NULL,"
    "  domain TEXT NOT NULL DEFAULT '',"
    "  requested_at INTEGER NOT NULL,"
    "  picked_at INTEGER,"
    "  done_at INTEGER,"
    "  result TEXT);",
};
static_assert(std::size(kMigrations) == kCacheSchemaVersion);

void report(const LogFn& log, std::string text) {
  if (log) log(std::move(text));
}

}  // namespace

int schema_version(sqlite3* db, int& version) {
  Statement st(db, "PRAGMA user_version");
  if (!st.ok()) return st.code();
  int rc = st.step();
  if (rc != SQLITE_ROW) return rc;
  version = static_cast<int>(st.integer(0));
  return SQLITE_OK;
}

int migrate(sqlite3* db, std::string& error) {
  int version = 0;
  int rc = schema_version(db, version);
  if (rc != SQLITE_OK) {
    error = describe(db, rc);
    return rc;
  }
  if (version > kCacheSchemaVersion) {
    error = "schema version " + std::to_string(version) + " is newer than this program's (" +
            std::to_string(kCacheSchemaVersion) + ")";
    return SQLITE_MISMATCH;
  }
  for (int v = version; v < kCacheSchemaVersion; ++v) {
    std::string sql = std::string("BEGIN IMMEDIATE;") + kMigrations[v] +
                      "PRAGMA user_version = " + std::to_string(v + 1) + ";COMMIT;";
    rc = exec(db, sql.c_str(), &error);
    if (rc != SQLITE_OK) {
      exec(db, "ROLLBACK");
      return rc;
    }
  }
  return SQLITE_OK;
}

int read_decisions(sqlite3* db, TimePoint min_valid, const LogFn& log, std::vector<StoredDecision>& out,
                   const std::string* only_domain) {
  Statement st(db, only_domain
                       ? "SELECT domain, json, expires_at, valid_until FROM decision WHERE domain = ?1"
                       : "SELECT domain, json, expires_at, valid_until FROM decision");
  if (!st.ok()) return st.code();
  if (only_domain) st.bind(1, *only_domain);
  const std::int64_t min_s = min_valid == TimePoint::min() ? INT64_MIN : policy::to_unix_seconds(min_valid);
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    const std::int64_t expires = st.integer(2), valid = st.integer(3);
    if (valid <= min_s) continue;
    auto parsed = policy::decision_from_json_text(st.text(1));
    if (!parsed) {
      report(log, "cache.db: skipping decision row for \"" + std::string(st.text(0)) + "\": " + parsed.error);
      continue;
    }
    if (parsed.value->domain != st.text(0)) {
      report(log, "cache.db: skipping decision row for \"" + std::string(st.text(0)) + "\": domain mismatch");
      continue;
    }
    out.push_back(StoredDecision{std::move(*parsed.value), policy::from_unix_seconds(expires),
                                 policy::from_unix_seconds(valid)});
  }
  return rc;
}

int read_sts(sqlite3* db, TimePoint min_valid, const LogFn& log, std::vector<StoredSts>& out,
             const std::string* only_domain) {
  Statement st(db, only_domain ? "SELECT domain, json, expires_at FROM sts_policy WHERE domain = ?1"
                               : "SELECT domain, json, expires_at FROM sts_policy");
  if (!st.ok()) return st.code();
  if (only_domain) st.bind(1, *only_domain);
  const std::int64_t min_s = min_valid == TimePoint::min() ? INT64_MIN : policy::to_unix_seconds(min_valid);
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    if (st.integer(2) <= min_s) continue;
    auto parsed = policy::cached_sts_from_json_text(st.text(1));
    if (!parsed) {
      report(log, "cache.db: skipping MTA-STS row for \"" + std::string(st.text(0)) + "\": " + parsed.error);
      continue;
    }
    out.push_back(StoredSts{std::string(st.text(0)), std::move(*parsed.value)});
  }
  return rc;
}

}  // namespace tlsfence::store
