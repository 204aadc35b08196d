// cache.db's control channel (see control.h).
#include "store/control.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <vector>

#include "policy/decision_json.h"

namespace tlsfence::store {
namespace {

std::int64_t unix_now() {
  return policy::to_unix_seconds(std::chrono::system_clock::now());
}

// Opens cache.db read-write (created when missing) with the schema brought up to date.
DbHandle open_control_db(const std::string& path, std::chrono::milliseconds busy, std::string& error) {
  int code = SQLITE_OK;
  DbHandle db = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, code, error);
  if (!db) return db;
  sqlite3_busy_timeout(db.get(), static_cast<int>(busy.count()));
  if (exec(db.get(), "PRAGMA journal_mode=WAL", &error) != SQLITE_OK) return nullptr;
  if (migrate(db.get(), error) != SQLITE_OK) return nullptr;
  return db;
}

}  // namespace

ControlPoller::ControlPoller(std::string path, LogFn log, ControlHandler handler, Options options)
    : path_(std::move(path)), log_(std::move(log)), handler_(std::move(handler)), options_(options) {}

ControlPoller::~ControlPoller() {
  stop();
}

void ControlPoller::start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard g(mutex_);
    stop_ = false;
  }
  cancelled_ = false;
  poll_once();  // register at once, so a CLI started right after us finds us
  thread_ = std::thread([this] { run(); });
}

void ControlPoller::stop() {
  {
    std::lock_guard g(mutex_);
    stop_ = true;
  }
  cancelled_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (db_ && registered_) {
    Statement del(db_.get(), "DELETE FROM daemon WHERE id = 1 AND pid = ?1");
    if (del.ok()) {
      del.bind(1, static_cast<std::int64_t>(::getpid()));
      del.step();
    }
    registered_ = false;
  }
  db_.reset();
}

void ControlPoller::run() {
  std::unique_lock lk(mutex_);
  while (!stop_) {
    wake_.wait_for(lk, options_.interval, [&] { return stop_; });
    if (stop_) break;
    lk.unlock();
    poll_once();
    lk.lock();
  }
}

bool ControlPoller::poll_once() {
  std::string error;
  auto fail = [&](const std::string& what) {
    if (!logged_failure_ && log_) log_("cache control: " + what + ": " + error);
    logged_failure_ = true;
    db_.reset();
    registered_ = false;
    return false;
  };
  if (!db_) {
    db_ = open_control_db(path_, options_.busy_timeout, error);
    if (!db_) return fail("cannot open " + path_);
  }
  sqlite3* db = db_.get();
  const std::int64_t now = unix_now();
  if (!registered_) {
    const std::string pid = std::to_string(::getpid());
    const std::string sql = "BEGIN IMMEDIATE;INSERT OR REPLACE INTO daemon VALUES (1, " + pid + ", " +
                            std::to_string(now) + ");UPDATE control SET done_at = " + std::to_string(now) +
                            ", result = 'expired: requested before tlsfenced (pid " + pid +
                            ") started' WHERE done_at IS NULL;COMMIT;";
    if (exec(db, sql.c_str(), &error) != SQLITE_OK) {
      exec(db, "ROLLBACK");
      return fail("cannot register in " + path_);
    }
    registered_ = true;
  }
  std::vector<ControlRequest> pending;
  {
    Statement st(db, "SELECT seq, op, domain FROM control WHERE done_at IS NULL ORDER BY seq LIMIT 100");
    if (!st.ok()) {
      error = describe(db, st.code());
      return fail("cannot read requests");
    }
    int rc;
    while ((rc = st.step()) == SQLITE_ROW)
      pending.push_back(
          ControlRequest{st.integer(0), std::string(st.text(1)), std::string(st.text(2)), &cancelled_});
    if (rc != SQLITE_DONE) {
      error = describe(db, rc);
      return fail("cannot read requests");
    }
  }
  for (const ControlRequest& r : pending) {
    {
      Statement picked(db, "UPDATE control SET picked_at = ?1 WHERE seq = ?2");
      if (picked.ok()) picked.bind(1, unix_now()).bind(2, r.seq).step();
    }
    std::string result;
    if (r.op != "flush" && r.op != "refresh") {
      result = "error: unknown operation \"" + r.op + "\"";
    } else {
      try {
        result = handler_(r);
      } catch (const std::exception& e) {
        result = std::string("error: ") + e.what();
      } catch (...) {
        result = "error: unknown exception";
      }
    }
    Statement done(db, "UPDATE control SET done_at = ?1, result = ?2 WHERE seq = ?3");
    int rc = done.ok() ? done.bind(1, unix_now()).bind(2, result).bind(3, r.seq).step() : done.code();
    if (rc != SQLITE_DONE) {
      error = describe(db, rc);
      return fail("cannot record the result of request " + std::to_string(r.seq));
    }
    ++handled_;
    if (log_)
      log_("cache control: " + r.op + " " + (r.domain.empty() ? "(every domain)" : r.domain) + " done");
  }
  // Answered requests are kept an hour for a slow CLI, then dropped.
  const std::string prune =
      "DELETE FROM control WHERE done_at IS NOT NULL AND done_at < " + std::to_string(now - 3600);
  exec(db, prune.c_str());
  if (logged_failure_ && log_) log_("cache control: " + path_ + " usable again");
  logged_failure_ = false;
  return true;
}

std::optional<RunningDaemon> running_daemon(const std::string& path, const std::string& program) {
  int code = SQLITE_OK;
  std::string error;
  DbHandle db = open_db(path, SQLITE_OPEN_READONLY, code, error);
  if (!db) return std::nullopt;
  sqlite3_busy_timeout(db.get(), 2'000);
  Statement st(db.get(), "SELECT pid, started_at FROM daemon WHERE id = 1");
  if (!st.ok() || st.step() != SQLITE_ROW) return std::nullopt;
  RunningDaemon d{static_cast<long>(st.integer(0)), st.integer(1)};
  if (d.pid <= 0) return std::nullopt;
  std::ifstream comm("/proc/" + std::to_string(d.pid) + "/comm");
  std::string name;
  if (!comm || !std::getline(comm, name) || name != program.substr(0, 15)) return std::nullopt;
  return d;
}

ControlOutcome request_control(const std::string& path, const std::string& op, const std::string& domain,
                               std::chrono::milliseconds wait, std::string& result, std::string& error,
                               long daemon_pid) {
  DbHandle db = open_control_db(path, std::chrono::milliseconds(5'000), error);
  if (!db) return ControlOutcome::failed;
  Statement ins(db.get(), "INSERT INTO control (op, domain, requested_at) VALUES (?1, ?2, ?3)");
  if (!ins.ok() || ins.bind(1, op).bind(2, domain).bind(3, unix_now()).step() != SQLITE_DONE) {
    error = describe(db.get(), ins.ok() ? sqlite3_errcode(db.get()) : ins.code());
    return ControlOutcome::failed;
  }
  const std::int64_t seq = sqlite3_last_insert_rowid(db.get());
  const auto deadline = std::chrono::steady_clock::now() + wait;
  unsigned rounds = 0;
  for (;;) {
    Statement st(db.get(), "SELECT done_at IS NOT NULL, result FROM control WHERE seq = ?1");
    if (st.ok() && st.bind(1, seq).step() == SQLITE_ROW && st.integer(0) == 1) {
      result = std::string(st.text(1));
      return ControlOutcome::done;
    }
    if (std::chrono::steady_clock::now() >= deadline) return ControlOutcome::timed_out;
    if (daemon_pid > 0 && ++rounds % 20 == 0 && ::kill(static_cast<pid_t>(daemon_pid), 0) != 0 &&
        errno == ESRCH) {
      error = "tlsfenced (pid " + std::to_string(daemon_pid) + ") ended before answering";
      return ControlOutcome::failed;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace tlsfence::store
