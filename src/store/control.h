#pragma once
// The control channel between `tlsfence cache flush|refresh` and a running tlsfenced, through
// cache.db (the one file both already share, with the daemon's user owning it):
//
//   daemon(id = 1, pid, started_at)   -- the running tlsfenced, registered by ControlPoller
//   control(seq, op, domain, requested_at, picked_at, done_at, result)
//
// The CLI inserts a request row and waits for done_at; the daemon's ControlPoller thread reads
// pending rows every `interval`, hands each to the handler (which acts on the daemon's memory)
// and writes the result. Requests older than the running daemon are answered "expired" at its
// start (the CLI already changed the file itself). No socket, no new permission: whoever may
// change cache.db may steer the daemon's cache, and nobody else.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "store/cache_schema.h"

namespace tlsfence::store {

struct ControlRequest {
  std::int64_t seq = 0;
  std::string op;      // "flush" | "refresh"
  std::string domain;  // "" = every domain
  // Set when the poller is stopping: a handler that waits should give up.
  const std::atomic<bool>* cancelled = nullptr;
};

// Runs on the poller thread and may block (the daemon waits for its io thread); returns the
// result text shown by the CLI. An exception becomes the result "error: …".
using ControlHandler = std::function<std::string(const ControlRequest&)>;

class ControlPoller {
 public:
  struct Options {
    std::chrono::milliseconds interval{500};
    std::chrono::milliseconds busy_timeout{2'000};
  };
  ControlPoller(std::string path, LogFn log, ControlHandler handler, Options options);
  ControlPoller(std::string path, LogFn log, ControlHandler handler)
      : ControlPoller(std::move(path), std::move(log), std::move(handler), Options{}) {}
  ~ControlPoller();  // stop()
  ControlPoller(const ControlPoller&) = delete;
  ControlPoller& operator=(const ControlPoller&) = delete;

  // Registers this process in the daemon table, answers older pending requests "expired",
  // starts the thread. A file that cannot be opened is logged and retried every interval.
  void start();
  // Stops the thread and removes the daemon row (when it is still this process's).
  void stop();
  std::uint64_t handled() const { return handled_; }

 private:
  void run();
  bool poll_once();  // false: the file was not usable this time

  const std::string path_;
  const LogFn log_;
  const ControlHandler handler_;
  const Options options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::atomic<bool> cancelled_{false};
  bool registered_ = false;
  bool logged_failure_ = false;
  std::atomic<std::uint64_t> handled_{0};
  DbHandle db_;
  std::thread thread_;
};

struct RunningDaemon {
  long pid = 0;
  std::int64_t started_at = 0;  // Unix seconds
};

// The tlsfenced registered in cache.db when its process is still alive (its /proc/PID/comm
// is "tlsfenced"); nothing when none is, or the file has no daemon table yet.
// (`program`: the expected process name, for tests.)
std::optional<RunningDaemon> running_daemon(const std::string& path,
                                            const std::string& program = "tlsfenced");

enum class ControlOutcome {
  done,       // `result` holds the daemon's answer
  timed_out,  // the request stays queued; the daemon did not answer within `wait`
  failed,     // `error` says why (file not writable, the daemon stopped, …)
};
// Queues a request and waits up to `wait` for the daemon's answer; gives up early when the
// process `daemon_pid` (when not 0) ends before answering.
ControlOutcome request_control(const std::string& path, const std::string& op, const std::string& domain,
                               std::chrono::milliseconds wait, std::string& result, std::string& error,
                               long daemon_pid = 0);

}  // namespace tlsfence::store
