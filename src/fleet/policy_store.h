#pragma once
// PgPolicyStore — the fleet's PostgreSQL as the second level of the policy cache: a
// policy::SharedStore (read on a memory miss, per-domain coordination) and a
// policy::CachePersistence (every decision and MTA-STS policy this host derives is written).
//
// - claim(): one round trip reads the stored decision and MTA-STS policy and, when no fresh
//   decision exists, tries pg_try_advisory_lock(hash of the domain) on the fleet connection.
//   Got it: this host resolves for the fleet; its decision is written, then the lock released
//   and NOTIFY tlsfence_policy 'DOMAIN' sent, in that order, in one job. Not got: another host
//   is resolving; wait for its NOTIFY (at most wait_bound), read again, else resolve alone.
// - A row that does not decode, or of a newer row format, is logged naming the domain and
//   ignored (the host resolves instead) — never a crash, never a silent "no policy".
// - Every call is also handed to the host's own persistence (cache.db). Erasures go only there:
//   the memory and cache.db of a host are its own; the fleet's rows
//   change only through `tlsfence cache flush` and newer writes (rows never go back in time:
//   a write with an older decided_at/fetched_at, or an older row format, is ignored). Rows past
//   valid_until (decisions) or max_age (MTA-STS policies) are deleted by the writing hosts, at
//   most once per purge_every each.
// - Every call has a deadline (query_timeout, write_timeout); while the link is down nothing
//   is asked and writes are dropped (the host is a single host then). io thread only.
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "fleet/client.h"
#include "fleet/control.h"
#include "policy/cache.h"
#include "policy/shared_store.h"
#include "tlsfence/clock.h"

namespace tlsfence::fleet {

class PgPolicyStore final : public policy::CachePersistence, public policy::SharedStore {
 public:
  struct Options {
    std::chrono::milliseconds query_timeout{2'000};   // a read on the request path
    std::chrono::milliseconds wait_bound{5'000};      // waiting for another host's resolution
    std::chrono::milliseconds write_timeout{10'000};  // a write behind
    std::chrono::seconds purge_every{3600};           // delete rows no host may answer any more
    bool read_only = false;  // `tlsfence query/explain`: read stored rows, never lock, never write
  };
  // `local` (may be null): this host's own persistence (cache.db); every call goes to it too.
  PgPolicyStore(FleetClient& client, asio::any_io_executor io, const Clock& clock, Options options,
                policy::CachePersistence* local);
  ~PgPolicyStore() override;

  // policy::SharedStore
  Task<policy::SharedClaim> claim(std::string domain) override;
  void resolved(const std::string& domain) override;

  // policy::CachePersistence (queue only)
  void put_decision(std::shared_ptr<const PolicyDecision> d, policy::TimePoint expires_at,
                    policy::TimePoint valid_until) override;
  void erase_decision(const std::string& domain) override;
  void put_sts(const std::string& domain, const CachedSts& sts) override;
  void erase_sts(const std::string& domain) override;
  void erase_all() override;

  // A NOTIFY on the policy channel (the owner posts it to the io thread): wakes the waiters.
  void on_resolved_elsewhere(const std::string& domain);
  std::size_t waiting() const;

 private:
  struct Read;
  Task<Read> read(const std::string& domain, bool try_lock);
  Read decode(const std::string& domain, const Outcome& o, std::int64_t now);
  void release(const std::string& domain, std::vector<Statement> before);

  FleetClient& client_;
  asio::any_io_executor io_;
  const Clock& clock_;
  const Options options_;
  policy::CachePersistence* local_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<asio::steady_timer>>> waiters_;
  std::unordered_set<std::string> leading_;  // domains whose lock this host holds, release due
  // Decisions answered from the fleet (domain -> decided_at): the cache's write-behind of them
  // is not sent back.
  std::unordered_map<std::string, std::int64_t> from_fleet_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  policy::TimePoint last_purge_{};
};

// The fleet-wide cache-control statements of `tlsfence cache flush [DOMAIN]` ("" = all):
// delete the stored rows and NOTIFY every host's tlsfenced to drop its memory of them.
std::vector<Statement> flush_statements(const std::string& domain, const std::string& from_host);
// After a refresh this host wrote: NOTIFY the other hosts to forget their memory of DOMAIN
// ("" = all) so their next lookup reads the refreshed row.
std::vector<Statement> refreshed_statements(const std::string& domain, const std::string& from_host);

}  // namespace tlsfence::fleet
