// CacheDb: write-behind persistence of the policy cache (see cache_db.h).
// Two locks, never held together by the io thread for long: queue_mutex_ guards the queue
// (the io thread only appends), db_mutex_ the connection (writer thread, and load() at
// start-up). No lock is held by the io thread across disk I/O.
#include "store/cache_db.h"

#include <cstdio>
#include <filesystem>
#include <iterator>

#include "policy/decision_json.h"

namespace tlsfence::store {

using policy::to_unix_seconds;

CacheDb::CacheDb(std::string path, LogFn log, const Clock& clock, Options options)
    : path_(std::move(path)), log_(std::move(log)), clock_(clock), options_(options) {
  {
    std::lock_guard g(db_mutex_);
    ensure_open();
  }
  writer_ = std::thread([this] { writer_loop(); });
}

CacheDb::~CacheDb() {
  {
    std::lock_guard g(queue_mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  writer_.join();
}

// ---- queue (io thread) ----

void CacheDb::enqueue(Op op) {
  bool was_empty;
  {
    std::lock_guard g(queue_mutex_);
    op.seq = next_seq_++;
    was_empty = queue_.empty();
    if (queue_.size() >= options_.max_pending) {
      queue_.pop_front();
      ++dropped_;
    }
    queue_.push_back(std::move(op));
  }
  if (was_empty) wake_.notify_one();
}

void CacheDb::put_decision(std::shared_ptr<const PolicyDecision> d, TimePoint expires_at,
                           TimePoint valid_until) {
  Op op{Op::put_decision, d->domain};
  op.decision = std::move(d);
  op.expires_at = to_unix_seconds(expires_at);
  op.valid_until = to_unix_seconds(std::max(valid_until, expires_at));
  enqueue(std::move(op));
}

void CacheDb::erase_decision(const std::string& domain) {
  enqueue(Op{Op::erase_decision, domain});
}

void CacheDb::put_sts(const std::string& domain, const CachedSts& sts) {
  Op op{Op::put_sts, domain};
  op.sts = std::make_shared<const CachedSts>(sts);
  op.expires_at = to_unix_seconds(sts.fetched_at + std::chrono::seconds(sts.policy.max_age));
  enqueue(std::move(op));
}

void CacheDb::erase_sts(const std::string& domain) {
  enqueue(Op{Op::erase_sts, domain});
}

void CacheDb::erase_all() {
  enqueue(Op{Op::erase_all, {}});
}

std::size_t CacheDb::pending() const {
  std::lock_guard g(queue_mutex_);
  return queue_.size() + writing_;
}

bool CacheDb::sync() {
  std::unique_lock lk(queue_mutex_);
  const std::uint64_t attempts_at_call = attempts_;
  ++sync_requests_;
  wake_.notify_all();
  done_.wait(
      lk, [&] { return (queue_.empty() && writing_ == 0) || (attempts_ > attempts_at_call && !last_ok_); });
  return queue_.empty() && writing_ == 0 && last_ok_;
}

// ---- writer thread ----

void CacheDb::writer_loop() {
  std::unique_lock lk(queue_mutex_);
  for (;;) {
    wake_.wait(lk, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stop_ and nothing left
    if (!stop_ && sync_requests_ == syncs_served_ && queue_.size() < options_.batch_max) {
      // Gather a batch: one transaction for many writes.
      wake_.wait_for(lk, options_.batch_delay, [&] {
        return stop_ || sync_requests_ != syncs_served_ || queue_.size() >= options_.batch_max;
      });
    }
    syncs_served_ = sync_requests_;
    const std::size_t n = std::min(queue_.size(), options_.batch_max);
    std::deque<Op> batch(std::make_move_iterator(queue_.begin()),
                         std::make_move_iterator(queue_.begin() + n));
    queue_.erase(queue_.begin(), queue_.begin() + n);
    writing_ = n;
    lk.unlock();
    const int rc = write_batch(batch);
    lk.lock();
    writing_ = 0;
    ++attempts_;
    last_ok_ = rc == SQLITE_OK;
    healthy_ = last_ok_;
    if (!last_ok_) {
      // Keep the writes, oldest first, for the next attempt (bounded).
      for (auto it = batch.rbegin(); it != batch.rend(); ++it) queue_.push_front(std::move(*it));
      while (queue_.size() > options_.max_pending) {
        queue_.pop_front();
        ++dropped_;
      }
    }
    done_.notify_all();
    if (!last_ok_) {
      if (stop_) break;  // one attempt at shutdown; memory was the source of truth anyway
      wake_.wait_for(lk, options_.retry_after, [&] { return stop_ || sync_requests_ != syncs_served_; });
    }
  }
}

int CacheDb::apply(const Op& op, Statement& put_d, Statement& del_d, Statement& put_s, Statement& del_s) {
  Statement* st = nullptr;
  switch (op.kind) {
    case Op::put_decision:
      st = &put_d;
      st->bind(1, op.domain)
          .bind(2, policy::decision_to_json_text(*op.decision))
          .bind(3, to_unix_seconds(op.decision->decided_at))
          .bind(4, op.expires_at)
          .bind(5, op.valid_until);
      break;
    case Op::erase_decision: st = &(del_d.bind(1, op.domain)); break;
    case Op::put_sts:
      st = &put_s;
      st->bind(1, op.domain)
          .bind(2, policy::cached_sts_to_json_text(*op.sts))
          .bind(3, to_unix_seconds(op.sts->fetched_at))
          .bind(4, op.expires_at);
      break;
    case Op::erase_sts: st = &(del_s.bind(1, op.domain)); break;
    case Op::erase_all: return exec(db_.get(), "DELETE FROM decision; DELETE FROM sts_policy;");
  }
  int rc = st->step();
  st->reset();
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int CacheDb::write_batch(const std::deque<Op>& batch) {
  std::lock_guard g(db_mutex_);
  int rc = SQLITE_CANTOPEN;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!ensure_open()) return SQLITE_CANTOPEN;
    sqlite3* db = db_.get();
    rc = exec(db, "BEGIN IMMEDIATE");
    if (rc == SQLITE_OK) {
      Statement put_d(db, "INSERT OR REPLACE INTO decision VALUES (?1, ?2, ?3, ?4, ?5)");
      Statement del_d(db, "DELETE FROM decision WHERE domain = ?1");
      Statement put_s(db, "INSERT OR REPLACE INTO sts_policy VALUES (?1, ?2, ?3, ?4)");
      Statement del_s(db, "DELETE FROM sts_policy WHERE domain = ?1");
      for (const Statement* s : {&put_d, &del_d, &put_s, &del_s})
        if (!s->ok()) rc = s->code();
      for (auto it = batch.begin(); rc == SQLITE_OK && it != batch.end(); ++it) {
        try {
          rc = apply(*it, put_d, del_d, put_s, del_s);
        } catch (const std::exception&) {  // bad_alloc while encoding: skip the row
        }
      }
      if (rc == SQLITE_OK) rc = exec(db, "COMMIT");
    }
    if (rc == SQLITE_OK) {
      note_success();
      if (clock_.now() - last_purge_ >= options_.purge_every) purge_expired();
      return SQLITE_OK;
    }
    const std::string detail = describe(db, rc);
    exec(db, "ROLLBACK");
    if (is_corruption(rc) && attempt == 0) {
      quarantine("write failed: " + detail);
      continue;
    }
    note_failure("write", rc, detail);
    return rc;
  }
  return rc;
}

// ---- connection (under db_mutex_) ----

bool CacheDb::ensure_open() {
  if (db_ && initialised_) return true;
  if (!db_) {
    int code = SQLITE_OK;
    std::string error;
    db_ = open_db(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, code, error);
    if (!db_) {
      note_failure("open", code, error);
      return false;
    }
    sqlite3_busy_timeout(db_.get(), static_cast<int>(options_.busy_timeout.count()));
  }
  const int rc = initialise();
  if (rc == SQLITE_OK) {
    initialised_ = true;
    return true;
  }
  const std::string detail = describe(db_.get(), rc);
  if (is_corruption(rc)) {
    quarantine(detail);
    return initialised_;
  }
  note_failure("initialise", rc, rc == SQLITE_MISMATCH ? schema_error_ : detail);
  if (rc == SQLITE_MISMATCH) db_.reset();  // a newer program's file: never write to it
  return false;
}

int CacheDb::initialise() {
  sqlite3* db = db_.get();
  {
    Statement wal(db, "PRAGMA journal_mode = WAL");
    if (!wal.ok()) return wal.code();
    int rc = wal.step();
    if (rc != SQLITE_ROW) return rc;
    if (wal.text(0) != "wal" && log_)
      log_("cache.db: " + path_ + ": WAL journal not available, using " + std::string(wal.text(0)));
  }
  int rc = exec(db, "PRAGMA synchronous = NORMAL");
  if (rc != SQLITE_OK) return rc;
  if (options_.max_page_count > 0) {
    rc = exec(db, ("PRAGMA max_page_count = " + std::to_string(options_.max_page_count)).c_str());
    if (rc != SQLITE_OK) return rc;
  }
  rc = migrate(db, schema_error_);
  if (rc != SQLITE_OK) return rc;
  // Touch both tables so a damaged file shows up now rather than on the first write.
  for (const char* sql : {"SELECT count(*) FROM decision", "SELECT count(*) FROM sts_policy"}) {
    Statement st(db, sql);
    if (!st.ok()) return st.code();
    rc = st.step();
    if (rc != SQLITE_ROW) return rc;
  }
  purge_expired();
  return SQLITE_OK;
}

void CacheDb::quarantine(const std::string& why) {
  namespace fs = std::filesystem;
  db_.reset();
  initialised_ = false;
  const std::string stamp = std::to_string(to_unix_seconds(clock_.now()));
  std::string target = path_ + ".corrupt-" + stamp;
  std::error_code ec;
  for (int n = 1; fs::exists(target, ec) && n < 1000; ++n)
    target = path_ + ".corrupt-" + stamp + "-" + std::to_string(n);
  fs::rename(path_, target, ec);
  if (ec) {
    if (log_)
      log_("cache.db: " + path_ + " is corrupt (" + why + ") and cannot be renamed (" + ec.message() +
           "); serving from memory only");
    return;
  }
  for (const char* suffix : {"-wal", "-shm"}) {
    std::error_code ignored;
    fs::rename(path_ + suffix, target + suffix, ignored);
  }
  if (log_)
    log_("cache.db: " + path_ + " is corrupt (" + why + "); renamed to " + target + ", starting a new one");
  int code = SQLITE_OK;
  std::string error;
  db_ = open_db(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, code, error);
  if (!db_) {
    note_failure("open", code, error);
    return;
  }
  sqlite3_busy_timeout(db_.get(), static_cast<int>(options_.busy_timeout.count()));
  const int rc = initialise();
  if (rc == SQLITE_OK) {
    initialised_ = true;
  } else {
    note_failure("initialise", rc, describe(db_.get(), rc));
    db_.reset();
  }
}

void CacheDb::purge_expired() {
  last_purge_ = clock_.now();
  const std::string now = std::to_string(to_unix_seconds(last_purge_));
  exec(db_.get(), ("DELETE FROM decision WHERE valid_until <= " + now +
                   "; DELETE FROM sts_policy WHERE expires_at <= " + now + ";")
                      .c_str());
}

std::string CacheDb::last_error() const {
  if (healthy_) return {};
  std::lock_guard lock(error_mutex_);
  return last_error_;
}

void CacheDb::note_failure(const char* what, int code, const std::string& detail) {
  {
    std::lock_guard lock(error_mutex_);
    last_error_ = std::string("cannot ") + what + " " + path_ + ": " + detail;
  }
  ++write_errors_;
  healthy_ = false;
  if (logged_errors_.insert(code & 0xff).second && log_)
    log_(std::string("cache.db: cannot ") + what + " " + path_ + ": " + detail +
         "; answering from memory, will retry");
}

void CacheDb::note_success() {
  if (!logged_errors_.empty() && log_) log_("cache.db: writes to " + path_ + " work again");
  logged_errors_.clear();
}

// ---- start-up load ----

CacheDb::Loaded CacheDb::load() {
  Loaded out;
  std::lock_guard g(db_mutex_);
  DbHandle fallback;
  sqlite3* db = nullptr;
  if (ensure_open()) {
    db = db_.get();
  } else if (std::error_code ec; std::filesystem::exists(path_, ec)) {
    // Not writable (read-only directory or disk): still start warm from what is there.
    int code = SQLITE_OK;
    std::string error;
    fallback = open_immutable(path_, code, error);
    db = fallback.get();
  }
  if (!db) return out;
  const TimePoint now = clock_.now();
  int rc = read_decisions(db, now, log_, out.decisions);
  if (rc == SQLITE_DONE) rc = read_sts(db, now, log_, out.sts);
  if (is_corruption(rc) && !fallback) {
    quarantine("reading: " + describe(db, rc));
  } else if (rc != SQLITE_DONE && log_) {
    log_("cache.db: cannot read " + path_ + ": " + describe(db, rc) + "; starting with what was read");
  }
  return out;
}

std::size_t CacheDb::load_into(policy::PolicyCache& cache) {
  Loaded l = load();
  for (auto& s : l.sts) cache.restore_sts(s.domain, std::move(s.sts));
  const std::size_t n = l.decisions.size();
  for (auto& d : l.decisions) cache.restore(std::move(d.decision), d.expires_at, d.valid_until);
  return n;
}

}  // namespace tlsfence::store
