#pragma once
// tlsfence-rptd's collectors and health checks for its metrics listener (names and labels:
// README "Metrics and health"). Runs on the io thread, where the collectors and their
// tlsrpt.db Store live; the event counters come from tlsrpt/counters.h.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "app/metrics_listener.h"
#include "tlsrpt/store.h"

namespace tlsfence {
namespace fleet {
class FleetClient;
}
namespace rptd {
struct FleetPending;
}

struct RptdParts {
  // Lines read so far per follower: (source kind "postfix-log"/"sendmail-log", lines).
  std::function<std::vector<std::pair<std::string, std::uint64_t>>()> lines;
  // The sidecar's store (null before start-up finished).
  std::function<tlsrpt::Store*()> store;
  // Why the last write to tlsrpt.db failed ("" when it worked).
  std::function<std::string()> store_error;
  std::string datagram_socket;  // [tlsrpt] socket ("" off)
  // The fleet connection ([fleet] postgresql; null: a single host, or not started yet).
  std::function<const fleet::FleetClient*()> fleet;
  // With a fleet: its pending deliveries as the report job last read them (nullopt: not yet).
  std::function<std::optional<rptd::FleetPending>()> fleet_pending;
};

void add_rptd_metrics(MetricsListener& listener, RptdParts parts);

}  // namespace tlsfence
