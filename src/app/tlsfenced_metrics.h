#pragma once
// tlsfenced's collectors and health checks for its metrics listener (the names and labels
// are listed in README "Metrics and health"). Everything read here is read on the io thread:
// the doors' relaxed atomic counters, the cache's statistics (io thread only) and the
// counting decorators of the PolicyStack.
#include <functional>

#include "app/metrics_listener.h"
#include "app/policy_stack.h"
#include "doors/milter/message.h"
#include "doors/milter/native.h"
#include "doors/policyd/server.h"
#include "doors/socketmap/server.h"

namespace tlsfence {

struct TlsfencedParts {
  PolicyStack& stack;
  const socketmap::SocketmapDoor& socketmap;
  const policyd::PolicydDoor& policy;
  const milter::NativeMilterDoor& native_milter;
  // The milter door's counters, whichever engine serves it (the native engine also counts
  // replies and RCPT latency).
  std::function<milter::MilterStats()> milter_stats;
  bool native_engine = true;
};

// Registers the collectors and the health checks (store unwritable, resolver unusable, fleet
// database unreachable).
void add_tlsfenced_metrics(MetricsListener& listener, TlsfencedParts parts);

}  // namespace tlsfence
