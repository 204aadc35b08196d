#pragma once
// FleetLink — the fleet part of a PolicyStack when [fleet] postgresql is set: the FleetClient
// (one worker thread on libpq), the PgPolicyStore in front of cache.db (the second level of the
// policy cache, and the write-behind of every decision and MTA-STS policy), and what a NOTIFY
// means to this process:
//   tlsfence_policy   'DOMAIN'                 another host resolved DOMAIN: wake the waiters
//   tlsfence_control  'flush HOST DOMAIN|*'    `tlsfence cache flush` somewhere: drop it from memory
//                     'refreshed HOST DOMAIN|*' a host refreshed it: drop it from memory, so the
//                                              next lookup reads the refreshed row
// Deadlines derive from [dns] timeout: a read on the request path at most a quarter of it
// (0.5..2 s), waiting for another host's resolution min(5 s, timeout/2), a write timeout.
#include <memory>
#include <string>

#include "async/asio.h"
#include "fleet/client.h"
#include "fleet/policy_store.h"
#include "policy/cache.h"
#include "policy/service.h"
#include "tlsfence/clock.h"
#include "tlsfence/config.h"

namespace tlsfence {

class FleetLink {
 public:
  // Starts the client and waits (at most its connect timeout) for the first connection attempt.
  // `read_only` (`tlsfence query/explain`): stored rows are read, nothing is locked or written,
  // no LISTEN, no host row.
  FleetLink(asio::io_context& io, const Config& config, const Clock& clock, policy::CachePersistence* local,
            bool read_only = false);
  ~FleetLink();  // writes still queued get their attempt (bounded), then the worker stops
  FleetLink(const FleetLink&) = delete;
  FleetLink& operator=(const FleetLink&) = delete;

  policy::CachePersistence* persistence() { return store_.get(); }
  // Once the cache and the service exist: misses consult the fleet, NOTIFYs reach the cache.
  void attach(policy::PolicyCache& cache, policy::PolicyService& service);
  // After `tlsfence cache refresh` of `domain` ("" = all) here: tell the other hosts.
  void refreshed(const std::string& domain);

  fleet::FleetClient& client() { return *client_; }
  bool connected() const { return client_->connected(); }  // the health hook

 private:
  void on_notify(const std::string& channel, const std::string& payload);  // io thread

  asio::io_context& io_;
  std::string host_;
  std::unique_ptr<fleet::FleetClient> client_;
  std::unique_ptr<fleet::PgPolicyStore> store_;
  policy::PolicyCache* cache_ = nullptr;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// The fleet's options a Config asks for ([fleet] host empty: the system host name).
fleet::FleetClient::Options fleet_client_options(const Config& config, const std::string& program);

}  // namespace tlsfence
