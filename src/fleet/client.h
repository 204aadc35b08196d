#pragma once
// FleetClient — the one connection of a program to the fleet's PostgreSQL, on ONE dedicated
// worker thread with a bounded queue, so no door ever waits on libpq.
//
// - The worker connects (non-blocking, bounded by connect_timeout), migrates the schema
//   (schema.h), LISTENs on the fleet channels, registers this host in tlsfence_hosts and keeps
//   its last_seen fresh every heartbeat. A lost or failed connection is retried with back-off
//   (link.h); each state change (up -> down, down -> up, incompatible) is logged once, with the
//   connection string redacted.
// - Jobs (a few statements) carry a deadline; a job whose deadline passed, or that arrives
//   while the link is down, fails at once with an error — the caller then acts as a single
//   host. A statement that misses its deadline drops the connection (reconnect with back-off).
// - run() is the io-thread side: a coroutine that never waits longer than its timeout, even
//   when the worker is stuck.
// - Notifications (LISTEN) are handed to the `notify` callback on the worker thread.
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "async/asio.h"
#include "fleet/link.h"
#include "fleet/pg.h"

namespace tlsfence::fleet {

class FleetClient {
 public:
  struct Options {
    std::string conninfo;
    std::string host;     // this host's name in the shared tables
    std::string program;  // "tlsfenced", "tlsfence", …
    std::chrono::milliseconds connect_timeout{5'000};
    std::chrono::milliseconds backoff_first{500}, backoff_max{30'000};
    std::chrono::milliseconds heartbeat{30'000};
    std::size_t max_queue = 10'000;
    bool listen = true;         // LISTEN on the fleet channels (daemons)
    bool register_host = true;  // a row in tlsfence_hosts
  };
  using Notify = std::function<void(const std::string& channel, const std::string& payload)>;
  using Done = std::function<void(Outcome)>;  // called on the worker thread

  FleetClient(Options options, Notify notify);
  ~FleetClient();  // stop(): jobs still queued get one attempt within their deadline
  FleetClient(const FleetClient&) = delete;
  FleetClient& operator=(const FleetClient&) = delete;

  void start();
  void stop();

  // Queues a job; false (and `done` never called) when the queue is full or stopped.
  bool submit(std::vector<Statement> statements, SteadyTime deadline, Done done = {});
  // The same from a coroutine on `ex`: the outcome, or a failure once `timeout` passed.
  Task<Outcome> run(asio::any_io_executor ex, std::vector<Statement> statements,
                    std::chrono::milliseconds timeout);
  // The same, blocking the calling thread (never the worker's): for the sidecar's report job
  // and the command line.
  Outcome call(std::vector<Statement> statements, std::chrono::milliseconds timeout);
  // Blocks until every job queued before the call was attempted, at most `wait` (CLI exit).
  bool drain(std::chrono::milliseconds wait);

  bool connected() const { return state_.load() == LinkState::up; }  // health hook
  LinkState state() const { return state_.load(); }
  // Blocks until the link left `starting` (first attempt done), at most `wait`.
  LinkState wait_started(std::chrono::milliseconds wait);
  const Options& options() const { return options_; }
  std::uint64_t dropped() const { return dropped_; }  // jobs refused: queue full

 private:
  struct Job {
    std::vector<Statement> statements;
    SteadyTime deadline;
    Done done;
  };
  void loop();
  void try_connect();
  void lose(const std::string& why);
  void deliver_notifications();
  void heartbeat();
  void note(std::optional<LinkTracker::Change> change);

  const Options options_;
  const Notify notify_;
  const std::string redacted_;
  int wake_fd_ = -1;  // eventfd: a job arrived, or stop

  std::mutex mutex_;
  std::condition_variable changed_;  // state left starting; a batch of jobs was attempted
  std::deque<Job> queue_;
  std::uint64_t queued_ = 0, attempted_ = 0;
  bool stop_ = false;

  // Worker thread only:
  Conn conn_;
  LinkTracker tracker_;
  Backoff backoff_;
  SteadyTime next_attempt_{}, next_heartbeat_{};
  std::int64_t started_at_ = 0;

  std::atomic<LinkState> state_{LinkState::starting};
  std::atomic<std::uint64_t> dropped_{0};
  std::thread worker_;
};

}  // namespace tlsfence::fleet
