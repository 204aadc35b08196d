#pragma once
// CacheReader: read-only access to cache.db for `tlsfence cache list` and the TLS-RPT
// sidecar, safe while tlsfenced writes (WAL readers do not block the writer; a busy
// timeout covers checkpoints). Rows that do not decode are skipped and logged.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/cache_schema.h"

namespace tlsfence::store {

class CacheReader {
 public:
  // Opens `path` read-only. Returns null with `error` set when the file is missing, not a
  // database, or of a newer schema. An empty database (no schema yet) opens fine.
  static std::unique_ptr<CacheReader> open(const std::string& path, std::string& error, LogFn log = {},
                                           std::chrono::milliseconds busy_timeout = std::chrono::seconds(5));

  // Every row, whatever its age (compare expires_at / valid_until yourself).
  std::optional<StoredDecision> decision(const std::string& domain);
  std::vector<StoredDecision> decisions();
  std::optional<CachedSts> sts(const std::string& domain);
  std::vector<StoredSts> all_sts();
  // SQLite code of the last query (SQLITE_DONE when it read everything).
  int last_code() const { return last_code_; }

 private:
  CacheReader(DbHandle db, LogFn log, bool empty) : db_(std::move(db)), log_(std::move(log)), empty_(empty) {}
  DbHandle db_;
  LogFn log_;
  bool empty_;  // schema version 0: nothing stored yet
  int last_code_ = SQLITE_DONE;
};

}  // namespace tlsfence::store
