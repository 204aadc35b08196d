#pragma once
// CacheDb: the daemon's cache.db, written behind by one writer thread.
//
// - The cache (io thread) calls the CachePersistence methods; they only queue and return.
//   The writer thread takes the queue in batches, one transaction per batch.
// - WAL journal, busy timeout, PRAGMA user_version schema with migrations.
// - load() / load_into() on start: every still-valid row; bad rows skipped and logged.
// - A corrupt file (not a database, or corruption found while reading or writing) is
//   logged, renamed to PATH.corrupt-<unixtime> (with its -wal/-shm) and recreated.
// - A file that cannot be opened or written (read-only, disk full, I/O error) never stops
//   the cache serving from memory: the failure is logged once per kind, the writes stay
//   queued and are retried every retry_after; "writes work again" is logged on recovery.
// Never throws after construction; the constructor does not throw either.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "policy/cache.h"
#include "store/cache_schema.h"
#include "tlsfence/clock.h"

namespace tlsfence::store {

class CacheDb final : public policy::CachePersistence {
 public:
  struct Options {
    std::chrono::milliseconds batch_delay{20};      // gather writes this long before a transaction
    std::size_t batch_max = 10'000;                 // rows per transaction
    std::chrono::milliseconds retry_after{30'000};  // after a failed write
    std::chrono::milliseconds busy_timeout{5'000};
    std::size_t max_pending = 2'000'000;     // queued writes kept while the disk fails; oldest dropped
    std::chrono::seconds purge_every{3600};  // delete rows past valid_until
    std::int64_t max_page_count = 0;         // tests: simulate a full disk (0: no limit)
  };

  // `log` is called from this thread and the writer thread; `clock` must outlive this.
  CacheDb(std::string path, LogFn log, const Clock& clock, Options options);
  CacheDb(std::string path, LogFn log, const Clock& clock)
      : CacheDb(std::move(path), std::move(log), clock, Options{}) {}
  ~CacheDb() override;  // writes what is queued (one attempt), then stops the writer
  CacheDb(const CacheDb&) = delete;
  CacheDb& operator=(const CacheDb&) = delete;

  struct Loaded {
    std::vector<StoredDecision> decisions;
    std::vector<StoredSts> sts;
  };
  Loaded load();                                      // rows still valid now
  std::size_t load_into(policy::PolicyCache& cache);  // restore()s them; returns the count

  // policy::CachePersistence — queue only.
  void put_decision(std::shared_ptr<const PolicyDecision> d, TimePoint expires_at,
                    TimePoint valid_until) override;
  void erase_decision(const std::string& domain) override;
  void put_sts(const std::string& domain, const CachedSts& sts) override;
  void erase_sts(const std::string& domain) override;
  void erase_all() override;

  // Blocks until every write queued before the call has been attempted (tests, shutdown).
  // Returns true when they were all committed.
  bool sync();
  bool healthy() const { return healthy_; }                     // last write attempt succeeded
  std::uint64_t write_errors() const { return write_errors_; }  // failed write attempts so far
  std::string last_error() const;  // why the last failed attempt failed ("" when healthy)
  std::size_t pending() const;
  std::uint64_t dropped() const { return dropped_; }
  const std::string& path() const { return path_; }

 private:
  struct Op {
    enum Kind { put_decision, erase_decision, put_sts, erase_sts, erase_all } kind;
    std::string domain;
    std::shared_ptr<const PolicyDecision> decision;
    std::shared_ptr<const CachedSts> sts;
    std::int64_t expires_at = 0, valid_until = 0;
    std::uint64_t seq = 0;
  };

  void enqueue(Op op);
  void writer_loop();
  int write_batch(const std::deque<Op>& batch);  // SQLITE_OK or the failing code
  int apply(const Op& op, Statement& put_d, Statement& del_d, Statement& put_s, Statement& del_s);
  // Under db_mutex_:
  bool ensure_open();                       // opens + initialises when needed; false: no usable file
  int initialise();                         // pragmas + migrations on db_
  void quarantine(const std::string& why);  // rename the corrupt file and recreate
  void purge_expired();
  void note_failure(const char* what, int code, const std::string& detail);
  void note_success();

  const std::string path_;
  const LogFn log_;
  const Clock& clock_;
  const Options options_;

  std::mutex db_mutex_;  // the connection: writer thread and load()
  DbHandle db_;
  bool initialised_ = false;
  std::set<int> logged_errors_;  // primary codes already logged since the last success
  TimePoint last_purge_{};
  std::string schema_error_;

  mutable std::mutex queue_mutex_;
  std::condition_variable wake_;  // writer: work, sync or stop
  std::condition_variable done_;  // sync(): a batch was attempted
  std::deque<Op> queue_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t attempts_ = 0;                          // write attempts so far
  bool last_ok_ = true;                                 // the last attempt committed
  std::size_t writing_ = 0;                             // writes taken out of the queue, being written
  std::uint64_t sync_requests_ = 0, syncs_served_ = 0;  // sync() calls / seen by the writer
  bool stop_ = false;
  std::atomic<bool> healthy_{true};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> write_errors_{0};
  mutable std::mutex error_mutex_;  // last_error_: writer thread and the health check
  std::string last_error_;
  std::thread writer_;
};

}  // namespace tlsfence::store
