#pragma once
// The fleet connection's coordination rules, pure and clock-driven (unit-tested with an injected
// clock): when to try connecting again (exponential back-off with jitter, reset by success) and
// which state changes are worth one log line each (up -> down, down -> up; never one per request).
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>

namespace tlsfence::fleet {

using SteadyTime = std::chrono::steady_clock::time_point;

class Backoff {
 public:
  Backoff(std::chrono::milliseconds first, std::chrono::milliseconds max, std::uint64_t seed = 0)
      : first_(first), max_(max), rng_(seed ? seed : std::random_device{}()) {}
  // After a failed attempt at `now`: when the next one may start. Each failure doubles the
  // delay (first, 2*first, … capped at max), each delay jittered to 75..100 % of its value.
  SteadyTime failed(SteadyTime now);
  void succeeded() { delay_ = {}; }
  std::chrono::milliseconds current() const { return delay_; }

 private:
  std::chrono::milliseconds first_, max_, delay_{};
  std::mt19937_64 rng_;
};

// The link's state as seen by its users. `incompatible`: the database holds a newer schema
// than this program knows — the host keeps running as a single host until an upgrade.
enum class LinkState { starting, up, down, incompatible };
const char* to_string(LinkState s);

// Remembers the state and says when a change deserves a log line: the first failure after
// start or after being up (once, not per retry), the first success after start or after a
// failure, entering `incompatible`. Repeated failures with a new reason are not logged again.
class LinkTracker {
 public:
  struct Change {
    LinkState from, to;
    std::string reason;  // the error of a failure; "" for up
  };
  std::optional<Change> connected();
  std::optional<Change> failed(const std::string& reason);
  std::optional<Change> incompatible(const std::string& reason);
  LinkState state() const { return state_; }

 private:
  std::optional<Change> move(LinkState to, const std::string& reason);
  LinkState state_ = LinkState::starting;
};

}  // namespace tlsfence::fleet
