#pragma once
// cache.db: schema, migrations and row types shared by the writer (CacheDb) and the
// read-only reader (CacheReader).
//
//   decision(domain PK, json, decided_at, expires_at, valid_until)   -- Unix seconds
//   sts_policy(domain PK, json, fetched_at, expires_at)
//   daemon, control: the CLI's requests to a running tlsfenced (store/control.h)
// `json` is policy/decision_json.h's encoding. PRAGMA user_version holds the schema
// version; migrations run in order, each in its own transaction.
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "store/sqlite.h"
#include "tlsfence/policy.h"
#include "tlsfence/sts_store.h"

namespace tlsfence::store {

using TimePoint = std::chrono::system_clock::time_point;
using LogFn = std::function<void(std::string)>;  // must be callable from any thread

inline constexpr int kCacheSchemaVersion = 2;

struct StoredDecision {
  PolicyDecision decision;
  TimePoint expires_at{};
  TimePoint valid_until{};
};

struct StoredSts {
  std::string domain;
  CachedSts sts;
};

// Reads PRAGMA user_version. Returns the SQLite code; `version` set on success.
int schema_version(sqlite3* db, int& version);

// Brings the schema to kCacheSchemaVersion. Returns SQLITE_OK, an SQLite error code, or
// SQLITE_MISMATCH when the file's schema is newer than this program knows.
int migrate(sqlite3* db, std::string& error);

// Reads rows; rows whose JSON does not decode are skipped and reported through `log`.
// `min_valid` filters: decisions with valid_until <= it and STS policies with
// expires_at <= it are skipped (TimePoint::min() keeps everything).
// Return the SQLite code of the query (SQLITE_OK / SQLITE_DONE on success).
int read_decisions(sqlite3* db, TimePoint min_valid, const LogFn& log, std::vector<StoredDecision>& out,
                   const std::string* only_domain = nullptr);
int read_sts(sqlite3* db, TimePoint min_valid, const LogFn& log, std::vector<StoredSts>& out,
             const std::string* only_domain = nullptr);

}  // namespace tlsfence::store
