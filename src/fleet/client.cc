// FleetClient: the worker thread, its queue and the link's state (see client.h).
#include "fleet/client.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <future>

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>

#include "fleet/conninfo.h"
#include "fleet/schema.h"
#include "tlsfence/version.h"
#include "util/log.h"

// g++ 12 at -O2 reports a false -Wmismatched-new-delete inside Asio's coroutine frame allocator.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace tlsfence::fleet {
namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Outcome failure(std::string why) {
  Outcome o;
  o.error = std::move(why);
  return o;
}

}  // namespace

FleetClient::FleetClient(Options options, Notify notify)
    : options_(std::move(options)),
      notify_(std::move(notify)),
      redacted_(redact_conninfo(options_.conninfo)),
      backoff_(options_.backoff_first, options_.backoff_max) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  started_at_ = unix_now();
}

FleetClient::~FleetClient() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void FleetClient::start() {
  if (worker_.joinable()) return;
  worker_ = std::thread([this] { loop(); });
}

void FleetClient::stop() {
  {
    std::lock_guard g(mutex_);
    stop_ = true;
  }
  const std::uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
  if (worker_.joinable()) worker_.join();
}

bool FleetClient::submit(std::vector<Statement> statements, SteadyTime deadline, Done done) {
  {
    std::lock_guard g(mutex_);
    if (stop_ || queue_.size() >= options_.max_queue) {
      ++dropped_;
      return false;
    }
    queue_.push_back(Job{std::move(statements), deadline, std::move(done)});
    ++queued_;
  }
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  return true;
}

Task<Outcome> FleetClient::run(asio::any_io_executor ex, std::vector<Statement> statements,
                               std::chrono::milliseconds timeout) {
  // While the link is not up, answer at once: the worker may be busy connecting.
  if (!connected()) co_return failure(std::string("fleet database ") + to_string(state()));
  struct Wait {
    explicit Wait(const asio::any_io_executor& e) : timer(e) {}
    asio::steady_timer timer;
    std::optional<Outcome> result;
  };
  auto w = std::make_shared<Wait>(ex);
  w->timer.expires_after(timeout);
  const bool queued =
      submit(std::move(statements), std::chrono::steady_clock::now() + timeout, [w, ex](Outcome o) {
        asio::post(ex, [w, o = std::move(o)]() mutable {
          if (w->result) return;
          w->result = std::move(o);
          w->timer.cancel();
        });
      });
  if (!queued) co_return failure("fleet queue full");
  boost::system::error_code ec;
  co_await w->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (w->result) co_return std::move(*w->result);
  co_return failure("no answer from the fleet database within " + std::to_string(timeout.count()) + " ms");
}

Outcome FleetClient::call(std::vector<Statement> statements, std::chrono::milliseconds timeout) {
  if (!connected()) return failure(std::string("fleet database ") + to_string(state()));
  auto result = std::make_shared<std::promise<Outcome>>();
  std::future<Outcome> got = result->get_future();
  if (!submit(std::move(statements), std::chrono::steady_clock::now() + timeout,
              [result](Outcome o) { result->set_value(std::move(o)); }))
    return failure("fleet queue full");
  // The worker answers within the deadline; the margin covers a worker stuck elsewhere.
  if (got.wait_for(timeout + std::chrono::seconds(1)) != std::future_status::ready)
    return failure("no answer from the fleet database within " + std::to_string(timeout.count()) + " ms");
  return got.get();
}

bool FleetClient::drain(std::chrono::milliseconds wait) {
  std::unique_lock g(mutex_);
  const std::uint64_t target = queued_;
  return changed_.wait_for(g, wait, [&] { return attempted_ >= target; });
}

LinkState FleetClient::wait_started(std::chrono::milliseconds wait) {
  std::unique_lock g(mutex_);
  changed_.wait_for(g, wait, [&] { return state_.load() != LinkState::starting; });
  return state_.load();
}

void FleetClient::note(std::optional<LinkTracker::Change> change) {
  {
    std::lock_guard g(mutex_);
    state_ = tracker_.state();
  }
  changed_.notify_all();
  if (!change) return;
  const std::string retry = std::to_string(backoff_.current().count()) + "ms";
  switch (change->to) {
    case LinkState::up:
      log::info("fleet database connected",
                {{"db", redacted_}, {"host", options_.host}, {"schema", kSchemaVersion}});
      break;
    case LinkState::down:
      log::warning(change->from == LinkState::up ? "fleet database connection lost; running as a single host"
                                                 : "fleet database unreachable; running as a single host",
                   {{"db", redacted_}, {"error", change->reason}, {"retry_in", retry}});
      break;
    case LinkState::incompatible:
      log::error("fleet database refused", {{"db", redacted_}, {"error", change->reason}});
      break;
    case LinkState::starting: break;
  }
}

void FleetClient::lose(const std::string& why) {
  conn_.reset();
  next_attempt_ = backoff_.failed(std::chrono::steady_clock::now());
  note(tracker_.failed(why));
}

void FleetClient::try_connect() {
  const SteadyTime now = std::chrono::steady_clock::now();
  std::string error;
  Conn conn = connect(options_.conninfo, options_.program, now + options_.connect_timeout, error);
  if (!conn) {
    lose(error);
    return;
  }
  const SteadyTime deadline = std::chrono::steady_clock::now() + options_.connect_timeout;
  Migration m = migrate(conn.get(), options_.program, deadline);
  if (m.status == Migration::Status::newer) {
    next_attempt_ = std::chrono::steady_clock::now() + options_.backoff_max;
    note(tracker_.incompatible(m.error));
    return;
  }
  if (m.status != Migration::Status::ok) {
    lose(m.error);
    return;
  }
  std::vector<Statement> setup;
  if (options_.listen) {
    setup.push_back({std::string("LISTEN ") + kPolicyChannel, {}});
    setup.push_back({std::string("LISTEN ") + kControlChannel, {}});
  }
  if (!setup.empty()) {
    Outcome o = fleet::run(conn.get(), setup, deadline);
    if (!o.ok) {
      lose("LISTEN: " + o.error);
      return;
    }
  }
  conn_ = std::move(conn);
  backoff_.succeeded();
  next_heartbeat_ = {};
  heartbeat();
  if (conn_) note(tracker_.connected());
}

void FleetClient::heartbeat() {
  if (!options_.register_host) {
    next_heartbeat_ = SteadyTime::max();
    return;
  }
  const SteadyTime now = std::chrono::steady_clock::now();
  Outcome o =
      fleet::run(conn_.get(),
                 {{"INSERT INTO tlsfence_hosts (host, program, pid, version, started_at, last_seen) "
                   "VALUES ($1, $2, $3, $4, $5, extract(epoch FROM now())::bigint) "
                   "ON CONFLICT (host, program) DO UPDATE SET pid = EXCLUDED.pid, version = "
                   "EXCLUDED.version, started_at = EXCLUDED.started_at, last_seen = EXCLUDED.last_seen",
                   {options_.host, options_.program, std::to_string(::getpid()),
                    std::string(TLSFENCE_VERSION), std::to_string(started_at_)}}},
                 now + options_.connect_timeout);
  next_heartbeat_ = now + options_.heartbeat;
  if (o.connection_lost) lose(o.error);
}

void FleetClient::deliver_notifications() {
  if (!consume(conn_.get())) {
    lose("connection lost");
    return;
  }
  while (PGnotify* n = PQnotifies(conn_.get())) {
    const std::string channel = n->relname != nullptr ? n->relname : "";
    const std::string payload = n->extra != nullptr ? n->extra : "";
    PQfreemem(n);
    if (notify_) notify_(channel, payload);
  }
}

void FleetClient::loop() {
  for (;;) {
    std::deque<Job> jobs;
    bool stopping;
    {
      std::lock_guard g(mutex_);
      jobs.swap(queue_);
      stopping = stop_;
    }
    if (!conn_ && !stopping && std::chrono::steady_clock::now() >= next_attempt_) try_connect();
    for (Job& j : jobs) {
      Outcome o;
      if (std::chrono::steady_clock::now() >= j.deadline) {
        o = failure("deadline passed before the fleet database was asked");
      } else if (!conn_) {
        o = failure(std::string("fleet database ") + to_string(tracker_.state()));
      } else {
        o = fleet::run(conn_.get(), j.statements, j.deadline);
        if (o.connection_lost) {
          lose(o.error);
        } else if (PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) {
          // A job that failed inside its BEGIN … COMMIT (or forgot COMMIT) never leaves its
          // transaction open for the next job.
          const Outcome r = fleet::run(conn_.get(), {{"ROLLBACK", {}}},
                                       std::chrono::steady_clock::now() + std::chrono::seconds(2));
          if (r.connection_lost) lose(r.error);
        }
      }
      if (j.done) j.done(std::move(o));
    }
    {
      std::lock_guard g(mutex_);
      attempted_ += jobs.size();
    }
    changed_.notify_all();
    if (stopping) {
      std::lock_guard g(mutex_);
      if (queue_.empty()) break;
      continue;
    }
    if (conn_) deliver_notifications();
    if (conn_ && std::chrono::steady_clock::now() >= next_heartbeat_) heartbeat();

    const SteadyTime now = std::chrono::steady_clock::now();
    SteadyTime until = conn_ ? next_heartbeat_ : next_attempt_;
    until = std::min(until, now + std::chrono::seconds(1));
    const auto ms =
        std::max<long long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count());
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {conn_ ? PQsocket(conn_.get()) : -1, POLLIN, 0}};
    ::poll(fds, conn_ ? 2 : 1, static_cast<int>(ms));
    if (fds[0].revents & POLLIN) {
      std::uint64_t n;
      (void)!::read(wake_fd_, &n, sizeof n);
    }
  }
  conn_.reset();
}

}  // namespace tlsfence::fleet
