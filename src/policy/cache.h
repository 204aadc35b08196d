#pragma once
// PolicyCache: the in-memory decision cache in front of PolicyService's resolution.
//
// - Single-threaded: every call runs on the io_context's thread (other threads post there).
// - Entries are keyed by the normalised domain (the caller normalises) and expire at
//   decided_at + ttl (positive answers capped by positive_ttl_max, "no policy" by
//   negative_ttl_max; a temp_fail is kept temp_ttl). Bounded by max_entries (LRU).
// - get_or_resolve(): a fresh entry is answered at once; otherwise one resolution runs and
//   every concurrent caller for that domain waits for its result (coalescing).
// - Stale-on-failure: a temp_fail resolution does not replace a still-valid earlier policy
//   (within its TTL, or for MTA-STS within max_age); that policy is answered instead, with
//   a reason saying so.
// - Proactive refresh: a hit in the last part of an entry's lifetime (a per-entry jittered
//   point in the last refresh_fraction) starts a background re-resolution, at most
//   max_concurrent_refreshes at a time; the old answer is served meanwhile.
// - Also the StsStore of the MTA-STS evaluator (RFC 8461 §5.1): policies kept until max_age.
// - Persistence is write-behind through CachePersistence (src/store implements it with
//   SQLite); its calls must never block. On start the owner restores saved entries.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "async/asio.h"
#include "policy/cache_pack.h"
#include "tlsfence/clock.h"
#include "tlsfence/config.h"
#include "tlsfence/policy.h"
#include "tlsfence/sts_store.h"

namespace tlsfence::policy {

using TimePoint = std::chrono::system_clock::time_point;

struct CacheOptions {
  std::uint64_t max_entries = 1'000'000;
  std::uint32_t negative_ttl_max = 3600;
  std::uint32_t temp_ttl = 30;
  std::uint32_t positive_ttl_max = 86400;  // DNS TTLs can be huge; re-check at least daily
  bool refresh = true;
  double refresh_fraction = 0.1;          // refresh window: last 10 % of the lifetime …
  std::uint32_t refresh_min_seconds = 5;  // … but at least this long (short TTLs)
  unsigned max_concurrent_refreshes = 8;
  std::uint64_t seed = 0;       // jitter RNG seed (0: random)
  std::size_t hot_max = 4'096;  // entries kept unpacked for the hot path (bounded memory)

  static CacheOptions from(const Config::Cache& c);
};

// Where the cache writes behind. Implementations queue and return at once.
class CachePersistence {
 public:
  virtual ~CachePersistence() = default;
  // expires_at: end of normal freshness; valid_until (>= expires_at): how long the entry
  // may still be answered when a new lookup fails (stale-on-failure).
  virtual void put_decision(std::shared_ptr<const PolicyDecision> d, TimePoint expires_at,
                            TimePoint valid_until) = 0;
  virtual void erase_decision(const std::string& domain) = 0;
  virtual void put_sts(const std::string& domain, const CachedSts& sts) = 0;
  virtual void erase_sts(const std::string& domain) = 0;
  virtual void erase_all() = 0;  // decisions and STS policies
};

struct CacheEntryInfo {
  std::string domain;
  Verdict verdict = Verdict::no_policy;
  Source source = Source::none;
  std::string level;  // "OK" text, or the TEMP reason for temp_fail
  TimePoint decided_at{}, expires_at{}, valid_until{}, last_used{};
  bool fresh = false;       // expires_at > now
  bool refreshing = false;  // a resolution is in flight
};

struct CacheStats {
  std::uint64_t hits = 0, misses = 0, coalesced = 0, resolutions = 0, refreshes = 0, stale_served = 0,
                evictions = 0;
};

class PolicyCache final : public StsStore {
 public:
  using Resolve = std::function<Task<PolicyDecision>()>;

  // `clock` and `persistence` (may be null: memory only) must outlive the cache.
  PolicyCache(asio::any_io_executor executor, const Clock& clock, CacheOptions options,
              CachePersistence* persistence = nullptr);
  ~PolicyCache() override;
  PolicyCache(const PolicyCache&) = delete;
  PolicyCache& operator=(const PolicyCache&) = delete;

  // The decision for `domain`: cached if fresh, else from `resolve` (coalesced with any
  // resolution already running for that domain). An exception from `resolve` becomes a
  // temp_fail decision. Never throws.
  Task<PolicyDecision> get_or_resolve(std::string domain, Resolve resolve);

  // Resolve `domain` now even when its entry is fresh (joins a resolution already running),
  // stored like any resolution: a failure does not replace a still-valid policy.
  Task<PolicyDecision> refresh_now(std::string domain, Resolve resolve);

  // Hot path without a coroutine: the fresh entry, or null (counts as a use, may start a
  // refresh when `resolve` is given).
  std::shared_ptr<const PolicyDecision> find_fresh(const std::string& domain,
                                                   const Resolve* resolve = nullptr);
  // The same, building the refresh's Resolve only when a refresh is due (`make_resolve()`
  // returns a Resolve): the hot path then allocates nothing.
  template <class MakeResolve>
  std::shared_ptr<const PolicyDecision> find_fresh_lazy(std::string_view domain, MakeResolve&& make_resolve) {
    Entry* e = hit(domain, nullptr);
    if (e == nullptr) return nullptr;
    if (options_.refresh && e->last_used >= e->refresh_at) maybe_refresh(*e, e->last_used, make_resolve());
    return hot(*e);
  }

  // Put a decision as if just resolved (applies TTL rules, persists, stale-on-failure).
  // Returns what is now cached for the domain (the decision, or the stale earlier one).
  std::shared_ptr<const PolicyDecision> insert(PolicyDecision d);

  // Start-up: restore persisted entries without writing them back. Entries whose
  // valid_until has passed are ignored.
  void restore(PolicyDecision d, TimePoint expires_at, TimePoint valid_until);
  void restore_sts(const std::string& domain, CachedSts sts);

  std::vector<CacheEntryInfo> list() const;  // sorted by domain
  std::optional<CacheEntryInfo> info(const std::string& domain) const;
  void flush();                           // everything, decisions and STS policies
  void flush(const std::string& domain);  // one domain, decision and STS policy
  std::size_t size() const { return index_.size(); }
  std::size_t sts_size() const { return sts_.size(); }
  std::size_t memory_estimate() const;  // bytes, approximate
  const CacheStats& stats() const { return stats_; }
  std::size_t in_flight() const { return in_flight_.size(); }
  unsigned refreshes_running() const { return refreshes_running_; }

  // StsStore (RFC 8461 §5.1). get_sts() returns nothing once fetched_at + max_age passed.
  std::optional<CachedSts> get_sts(const std::string& domain) override;
  void put_sts(const std::string& domain, const CachedSts& entry) override;
  void erase_sts(const std::string& domain) override;

 private:
  struct Entry {
    PackedDecision packed;  // the decision, compact
    // The unpacked decision of a recently hit entry, shared with callers (no copy per hit).
    // At most hot_max entries hold one (hot_ring_); reset whenever `packed` changes.
    std::shared_ptr<const PolicyDecision> hot;
    TimePoint expires_at, valid_until, refresh_at, last_used;
  };
  using Lru = std::list<Entry>;  // front: most recently used
  struct InFlight;

  Entry* find_entry(std::string_view domain);
  Entry* hit(std::string_view domain, const Resolve* resolve);  // fresh entry, marked used
  const std::shared_ptr<const PolicyDecision>& hot(Entry& e);   // e's decision, unpacked once
  void maybe_refresh(Entry& e, TimePoint now, const Resolve& resolve);
  Task<PolicyDecision> resolve_once(std::string domain, Resolve resolve);
  Task<PolicyDecision> lead(std::string domain, Resolve resolve, std::shared_ptr<InFlight> flight);
  std::shared_ptr<const PolicyDecision> store(PolicyDecision d, TimePoint now, bool persist);
  Entry& upsert(PackedDecision packed, TimePoint expires_at, TimePoint valid_until, TimePoint now);
  void erase_entry(Lru::iterator it);
  void evict_to_bound();
  TimePoint pick_refresh_at(TimePoint decided, TimePoint expires);
  TimePoint valid_until_for(const PolicyDecision& d, TimePoint expires_at) const;

  asio::any_io_executor executor_;
  const Clock& clock_;
  CacheOptions options_;
  CachePersistence* persistence_;
  Lru lru_;
  std::unordered_map<std::string_view, Lru::iterator> index_;  // keys view Entry::packed's domain
  std::unordered_map<std::string, std::shared_ptr<InFlight>> in_flight_;
  std::unordered_map<std::string, CachedSts> sts_;
  std::size_t bytes_ = 0;
  std::deque<std::string> hot_ring_;  // domains given a hot decision, oldest first
  unsigned refreshes_running_ = 0;
  CacheStats stats_;
  std::mt19937_64 rng_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tlsfence::policy
