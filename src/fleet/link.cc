// Back-off and state-change rules of the fleet connection (see link.h).
#include "fleet/link.h"

#include <algorithm>

namespace tlsfence::fleet {

SteadyTime Backoff::failed(SteadyTime now) {
  delay_ = delay_ == std::chrono::milliseconds{} ? first_ : std::min(delay_ * 2, max_);
  std::uniform_int_distribution<std::int64_t> jitter(delay_.count() * 3 / 4, delay_.count());
  return now + std::chrono::milliseconds(jitter(rng_));
}

const char* to_string(LinkState s) {
  switch (s) {
    case LinkState::starting: return "starting";
    case LinkState::up: return "up";
    case LinkState::down: return "down";
    case LinkState::incompatible: return "incompatible";
  }
  return "?";
}

std::optional<LinkTracker::Change> LinkTracker::move(LinkState to, const std::string& reason) {
  if (state_ == to) return std::nullopt;
  Change c{state_, to, reason};
  state_ = to;
  return c;
}

std::optional<LinkTracker::Change> LinkTracker::connected() {
  return move(LinkState::up, "");
}

std::optional<LinkTracker::Change> LinkTracker::failed(const std::string& reason) {
  return move(LinkState::down, reason);
}

std::optional<LinkTracker::Change> LinkTracker::incompatible(const std::string& reason) {
  return move(LinkState::incompatible, reason);
}

}  // namespace tlsfence::fleet
