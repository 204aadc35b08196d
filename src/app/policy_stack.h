#pragma once
// PolicyStack — everything behind PolicyLookup, assembled from one Config: the libunbound
// resolver, the MTA-STS fetcher, the PolicyCache with its cache.db, and PolicyService.
// Used by tlsfenced (persisting) and by `tlsfence query/explain` (reading cache.db only, so
// the command answers exactly what the daemon would, without writing the daemon's file).
#include <memory>
#include <string>
#include <vector>

#include "app/observed.h"
#include "async/asio.h"
#include "policy/cache.h"
#include "policy/service.h"
#include "policy/sts_fetcher.h"
#include "store/cache_db.h"
#include "tlsfence/clock.h"
#include "tlsfence/config.h"

namespace tlsfence::dns {
class UnboundResolver;
}

namespace tlsfence {

class FleetLink;

class PolicyStack {
 public:
  enum class CacheFile {
    read_write,  // the daemon: load cache.db, write every decision behind
    read_only,   // the CLI: load cache.db if it exists, never write it
  };
  // Throws std::exception with a clear message when the DNS or TLS setup is refused.
  PolicyStack(asio::io_context& io, const Config& config, CacheFile mode);
  ~PolicyStack();
  PolicyStack(const PolicyStack&) = delete;
  PolicyStack& operator=(const PolicyStack&) = delete;

  policy::PolicyService& service() { return *service_; }
  policy::PolicyCache& cache() { return *cache_; }
  std::size_t loaded() const { return loaded_; }  // entries restored from cache.db
  // `tlsfence cache refresh`: PolicyService::refresh of each domain in turn (an empty list:
  // every domain in the memory cache); the decisions in that order. On the io thread.
  Task<std::vector<PolicyDecision>> refresh(std::vector<std::string> domains);
  // Files the stack writes while running (cache.db and its WAL/SHM, the trust-anchor copy
  // libunbound updates): a daemon started as root hands them to daemon.user before the drop.
  std::vector<std::string> state_files() const;
  // [fleet] postgresql set: the fleet link (app/fleet_link.h; read-only for a read_only stack).
  FleetLink* fleet() { return fleet_.get(); }

  // A SIGHUP reload: applies the new [local] override rules and [socketmap] enforce-testing
  // to the PolicyService (on the io thread). Throws policy::OverrideError naming a bad rule,
  // changing nothing. DNS, MTA-STS and cache settings change only on restart.
  void reconfigure(const Config& config);

  // For the metrics listener: lookups, fetches and resolutions counted on their way, and the
  // cache.db writer (null for the CLI's read-only stack).
  const observe::CountingDns& dns_counts() const { return *counted_dns_; }
  const observe::CountingFetcher& fetch_counts() const { return *counted_fetcher_; }
  const observe::ResolutionCounts& resolution_counts() const { return resolutions_; }
  const store::CacheDb* cache_db() const { return db_.get(); }

 private:
  policy::ServiceOptions counted(policy::ServiceOptions options);

  SystemClock clock_;
  std::unique_ptr<dns::UnboundResolver> dns_;
  std::unique_ptr<observe::CountingDns> counted_dns_;
  std::unique_ptr<StsFetcher> fetcher_;
  std::unique_ptr<observe::CountingFetcher> counted_fetcher_;
  observe::ResolutionCounts resolutions_;
  std::unique_ptr<store::CacheDb> db_;
  std::unique_ptr<FleetLink> fleet_;  // before cache_: the cache writes through it
  std::unique_ptr<policy::PolicyCache> cache_;
  std::unique_ptr<policy::PolicyService> service_;
  std::size_t loaded_ = 0;
};

// One log line per decision: stable text + key=value fields.
void log_decision(const PolicyDecision& d, bool from_cache);

// The PolicyService options a Config asks for (start-up and reload).
policy::ServiceOptions service_options(const Config& config);

}  // namespace tlsfence
