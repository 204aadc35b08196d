// Read-only cache.db access (see cache_reader.h).
#include "store/cache_reader.h"

namespace tlsfence::store {

std::unique_ptr<CacheReader> CacheReader::open(const std::string& path, std::string& error, LogFn log,
                                               std::chrono::milliseconds busy_timeout) {
  int code = SQLITE_OK;
  DbHandle db = open_db(path, SQLITE_OPEN_READONLY, code, error);
  if (!db) return nullptr;
  sqlite3_busy_timeout(db.get(), static_cast<int>(busy_timeout.count()));
  int version = 0;
  code = schema_version(db.get(), version);
  if (code != SQLITE_OK && (code & 0xff) == SQLITE_CANTOPEN) {
    // WAL needs a -shm file beside the database; in a directory we may not write, read the
    // file as it is instead.
    std::string ignored;
    if (DbHandle ro = open_immutable(path, code, ignored)) {
      db = std::move(ro);
      code = schema_version(db.get(), version);
    }
  }
  if (code != SQLITE_OK) {
    error = describe(db.get(), code);
    return nullptr;
  }
  if (version > kCacheSchemaVersion) {
    error = "schema version " + std::to_string(version) + " is newer than this program's";
    return nullptr;
  }
  return std::unique_ptr<CacheReader>(new CacheReader(std::move(db), std::move(log), version == 0));
}

std::optional<StoredDecision> CacheReader::decision(const std::string& domain) {
  if (empty_) return std::nullopt;
  std::vector<StoredDecision> rows;
  last_code_ = read_decisions(db_.get(), TimePoint::min(), log_, rows, &domain);
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

std::vector<StoredDecision> CacheReader::decisions() {
  std::vector<StoredDecision> rows;
  if (!empty_) last_code_ = read_decisions(db_.get(), TimePoint::min(), log_, rows);
  return rows;
}

std::optional<CachedSts> CacheReader::sts(const std::string& domain) {
  if (empty_) return std::nullopt;
  std::vector<StoredSts> rows;
  last_code_ = read_sts(db_.get(), TimePoint::min(), log_, rows, &domain);
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front().sts);
}

std::vector<StoredSts> CacheReader::all_sts() {
  std::vector<StoredSts> rows;
  if (!empty_) last_code_ = read_sts(db_.get(), TimePoint::min(), log_, rows);
  return rows;
}

}  // namespace tlsfence::store
