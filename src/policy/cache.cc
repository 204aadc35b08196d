// PolicyCache: see cache.h for the contract. Everything here runs on one thread (the
// io_context's); no locks. A resolution in flight is an InFlight whose timer, set to
// expire never, is cancelled to wake every coroutine waiting for the same domain.
#include "policy/cache.h"

#include <algorithm>
#include <exception>

#include <boost/asio/redirect_error.hpp>

// g++ 12 misreads Boost 1.74 awaitable frames' sized operator delete (false positive).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include "policy/decision_json.h"

namespace tlsfence::policy {
namespace {

constexpr std::string_view kStalePrefix = "cached policy answered: ";

std::size_t string_heap(const std::string& s) {
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}

std::size_t strings_bytes(const std::vector<std::string>& v) {
  std::size_t n = v.capacity() * sizeof(std::string);
  for (const auto& s : v) n += string_heap(s);
  return n;
}

std::string unix_text(TimePoint t) {
  return std::to_string(to_unix_seconds(t));
}

PolicyDecision internal_failure(const std::string& domain, TimePoint now, std::string what) {
  PolicyDecision d;
  d.domain = domain;
  d.verdict = Verdict::temp_fail;
  d.temp_reason = "internal error: " + what;
  d.decided_at = now;
  d.reasons.push_back(d.temp_reason);
  return d;
}

}  // namespace

CacheOptions CacheOptions::from(const Config::Cache& c) {
  CacheOptions o;
  o.max_entries = c.max_entries;
  o.negative_ttl_max = c.negative_ttl_max;
  o.temp_ttl = c.temp_ttl;
  o.refresh = c.refresh;
  return o;
}

struct PolicyCache::InFlight {
  explicit InFlight(const asio::any_io_executor& ex) : done(ex, asio::steady_timer::time_point::max()) {}
  asio::steady_timer done;
  std::optional<PolicyDecision> result;
  bool background = false;
};

PolicyCache::PolicyCache(asio::any_io_executor executor, const Clock& clock, CacheOptions options,
                         CachePersistence* persistence)
    : executor_(std::move(executor)),
      clock_(clock),
      options_(options),
      persistence_(persistence),
      rng_(options.seed ? options.seed : std::random_device{}()) {
  if (options_.max_entries == 0) options_.max_entries = 1;
}

PolicyCache::~PolicyCache() {
  *alive_ = false;
}

PolicyCache::Entry* PolicyCache::find_entry(std::string_view domain) {
  auto it = index_.find(domain);
  return it == index_.end() ? nullptr : &*it->second;
}

PolicyCache::Entry* PolicyCache::hit(std::string_view domain, const Resolve* resolve) {
  auto found = index_.find(domain);
  if (found == index_.end()) return nullptr;
  const Lru::iterator it = found->second;
  const TimePoint now = clock_.now();
  if (it->expires_at <= now) return nullptr;
  ++stats_.hits;
  it->last_used = now;
  if (it != lru_.begin()) lru_.splice(lru_.begin(), lru_, it);
  if (resolve && options_.refresh) maybe_refresh(*it, now, *resolve);
  return &*it;
}

const std::shared_ptr<const PolicyDecision>& PolicyCache::hot(Entry& e) {
  if (!e.hot) {
    e.hot = std::make_shared<const PolicyDecision>(e.packed.unpack());
    hot_ring_.emplace_back(e.packed.domain());
    while (hot_ring_.size() > options_.hot_max) {
      // The oldest hot domain goes back to packed-only (it may be gone or re-hot already:
      // then this only costs it one unpack on its next hit).
      if (Entry* old = find_entry(hot_ring_.front())) old->hot.reset();
      hot_ring_.pop_front();
    }
  }
  return e.hot;
}

std::shared_ptr<const PolicyDecision> PolicyCache::find_fresh(const std::string& domain,
                                                              const Resolve* resolve) {
  if (Entry* e = hit(domain, resolve)) return hot(*e);
  return nullptr;
}

Task<PolicyDecision> PolicyCache::get_or_resolve(std::string domain, Resolve resolve) {
  if (Entry* e = hit(domain, &resolve)) co_return *hot(*e);
  co_return co_await resolve_once(std::move(domain), std::move(resolve));
}

Task<PolicyDecision> PolicyCache::refresh_now(std::string domain, Resolve resolve) {
  co_return co_await resolve_once(std::move(domain), std::move(resolve));
}

void PolicyCache::maybe_refresh(Entry& e, TimePoint now, const Resolve& resolve) {
  if (now < e.refresh_at || refreshes_running_ >= options_.max_concurrent_refreshes) return;
  std::string domain(e.packed.domain());
  if (in_flight_.count(domain)) return;
  ++stats_.refreshes;
  ++refreshes_running_;
  auto flight = std::make_shared<InFlight>(executor_);
  flight->background = true;
  in_flight_.emplace(domain, flight);
  asio::co_spawn(executor_, lead(domain, resolve, std::move(flight)), asio::detached);
}

Task<PolicyDecision> PolicyCache::resolve_once(std::string domain, Resolve resolve) {
  if (auto it = in_flight_.find(domain); it != in_flight_.end()) {
    ++stats_.coalesced;
    std::shared_ptr<InFlight> flight = it->second;
    if (!flight->result) {
      boost::system::error_code ec;  // operation_aborted: the result is there
      co_await flight->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (flight->result) co_return *flight->result;
    co_return internal_failure(domain, clock_.now(), "resolution abandoned");
  }
  ++stats_.misses;
  auto flight = std::make_shared<InFlight>(executor_);
  in_flight_.emplace(domain, flight);
  co_return co_await lead(std::move(domain), std::move(resolve), std::move(flight));
}

Task<PolicyDecision> PolicyCache::lead(std::string domain, Resolve resolve,
                                       std::shared_ptr<InFlight> flight) {
  ++stats_.resolutions;
  std::weak_ptr<bool> alive = alive_;

  PolicyDecision fresh;
  bool ok = false;
  std::string failure;
  try {
    fresh = co_await resolve();
    ok = true;
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  auto still_alive = alive.lock();
  if (!still_alive || !*still_alive) co_return fresh;  // the cache is gone: touch nothing

  const TimePoint now = clock_.now();
  if (!ok) fresh = internal_failure(domain, now, failure);
  fresh.domain = domain;
  try {
    flight->result = *store(std::move(fresh), now, true);
  } catch (const std::exception& e) {  // bad_alloc: answer, do not crash
    flight->result = internal_failure(domain, now, e.what());
  }
  if (auto it = in_flight_.find(domain); it != in_flight_.end() && it->second == flight) in_flight_.erase(it);
  if (flight->background) --refreshes_running_;
  flight->done.cancel();
  co_return *flight->result;
}

TimePoint PolicyCache::valid_until_for(const PolicyDecision& d, TimePoint expires_at) const {
  if (d.verdict != Verdict::policy || d.source != Source::mta_sts || !d.sts) return expires_at;
  TimePoint base = d.decided_at;
  if (auto it = sts_.find(d.domain); it != sts_.end() && it->second.policy.id == d.sts->id)
    base = std::min(base, it->second.fetched_at);
  return std::max(expires_at, base + std::chrono::seconds(d.sts->max_age));
}

TimePoint PolicyCache::pick_refresh_at(TimePoint from, TimePoint expires) {
  using namespace std::chrono;
  const auto life = duration_cast<seconds>(expires - from);
  if (life <= seconds(0)) return expires;
  auto window = std::max(duration_cast<seconds>(life * options_.refresh_fraction),
                         seconds(options_.refresh_min_seconds));
  window = std::min(window, life);
  // Jitter: a uniformly chosen point in the first half of the window, so entries stored
  // together (a restart, a burst) do not all refresh at the same moment.
  std::uniform_real_distribution<double> u(0.5, 1.0);
  return expires - duration_cast<system_clock::duration>(window * u(rng_));
}

std::shared_ptr<const PolicyDecision> PolicyCache::store(PolicyDecision d, TimePoint now, bool persist) {
  using std::chrono::seconds;
  Entry* old = find_entry(d.domain);

  if (d.verdict == Verdict::temp_fail && old && old->valid_until > now &&
      old->packed.verdict() != Verdict::temp_fail) {
    // Stale-on-failure: keep answering the earlier policy; retry after temp_ttl.
    PolicyDecision stale = old->packed.unpack();
    if (!stale.reasons.empty() && stale.reasons.back().starts_with(kStalePrefix)) stale.reasons.pop_back();
    stale.reasons.push_back(std::string(kStalePrefix) + "a new lookup failed (" + d.temp_reason +
                            "); the policy decided at " + unix_text(stale.decided_at) +
                            " stays valid until " + unix_text(old->valid_until));
    ++stats_.stale_served;
    const TimePoint valid_until = old->valid_until;
    const TimePoint expires =
        std::max(old->expires_at, std::min(now + seconds(options_.temp_ttl), valid_until));
    Entry& e = upsert(PackedDecision::pack(stale), expires, valid_until, now);
    e.refresh_at = std::min(expires, now + seconds(options_.temp_ttl));
    return std::make_shared<const PolicyDecision>(std::move(stale));
  }

  const TimePoint base = (d.decided_at == TimePoint{} || d.decided_at > now) ? now : d.decided_at;
  std::uint32_t ttl = d.ttl;
  switch (d.verdict) {
    case Verdict::policy: ttl = std::min(ttl, options_.positive_ttl_max); break;
    case Verdict::no_policy: ttl = std::min(ttl, options_.negative_ttl_max); break;
    case Verdict::temp_fail: ttl = options_.temp_ttl; break;
  }
  const TimePoint expires = base + seconds(ttl);
  const TimePoint valid_until = valid_until_for(d, expires);
  auto ptr = std::make_shared<const PolicyDecision>(std::move(d));
  if (expires <= now && valid_until <= now) {  // not cacheable (TTL 0)
    if (old) erase_entry(index_.find(ptr->domain)->second);
    return ptr;
  }
  upsert(PackedDecision::pack(*ptr), expires, valid_until, now);
  if (persist && persistence_ && ptr->verdict != Verdict::temp_fail)
    persistence_->put_decision(ptr, expires, valid_until);
  return ptr;
}

PolicyCache::Entry& PolicyCache::upsert(PackedDecision packed, TimePoint expires_at, TimePoint valid_until,
                                        TimePoint now) {
  auto it = index_.find(packed.domain());
  if (it == index_.end()) {
    lru_.push_front(Entry{});
    lru_.front().packed = std::move(packed);
    it = index_.emplace(lru_.front().packed.domain(), lru_.begin()).first;
  } else {
    Entry& e = *it->second;
    bytes_ -= e.packed.bytes();
    e.packed = std::move(packed);
    e.hot.reset();
    // The key views the packed block's domain: point it at the new block.
    auto node = index_.extract(it);
    node.key() = e.packed.domain();
    it = index_.insert(std::move(node)).position;
    if (it->second != lru_.begin()) lru_.splice(lru_.begin(), lru_, it->second);
  }
  Entry& e = *it->second;
  bytes_ += e.packed.bytes();
  e.expires_at = expires_at;
  e.valid_until = valid_until;
  e.last_used = now;
  // A TEMP is retried when it expires, by a waiting caller; only answers are refreshed.
  e.refresh_at = e.packed.verdict() == Verdict::temp_fail ? expires_at : pick_refresh_at(now, expires_at);
  evict_to_bound();
  return *lru_.begin();
}

void PolicyCache::erase_entry(Lru::iterator it) {
  bytes_ -= it->packed.bytes();
  index_.erase(it->packed.domain());
  lru_.erase(it);
}

void PolicyCache::evict_to_bound() {
  while (index_.size() > options_.max_entries && lru_.size() > 1) {
    erase_entry(std::prev(lru_.end()));
    ++stats_.evictions;
  }
}

std::shared_ptr<const PolicyDecision> PolicyCache::insert(PolicyDecision d) {
  return store(std::move(d), clock_.now(), true);
}

void PolicyCache::restore(PolicyDecision d, TimePoint expires_at, TimePoint valid_until) {
  const TimePoint now = clock_.now();
  valid_until = std::max(valid_until, expires_at);
  if (valid_until <= now || d.domain.empty()) return;
  upsert(PackedDecision::pack(d), expires_at, valid_until, now);
}

void PolicyCache::restore_sts(const std::string& domain, CachedSts sts) {
  if (sts.fetched_at + std::chrono::seconds(sts.policy.max_age) <= clock_.now()) return;
  sts_[domain] = std::move(sts);
}

std::optional<CacheEntryInfo> PolicyCache::info(const std::string& domain) const {
  auto it = index_.find(domain);
  if (it == index_.end()) return std::nullopt;
  const Entry& e = *it->second;
  const PolicyDecision d = e.packed.unpack();
  CacheEntryInfo i;
  i.domain = d.domain;
  i.verdict = d.verdict;
  i.source = d.source;
  i.level = d.verdict == Verdict::temp_fail ? d.temp_reason : d.level;
  i.decided_at = d.decided_at;
  i.expires_at = e.expires_at;
  i.valid_until = e.valid_until;
  i.last_used = e.last_used;
  i.fresh = e.expires_at > clock_.now();
  i.refreshing = in_flight_.count(d.domain) > 0;
  return i;
}

std::vector<CacheEntryInfo> PolicyCache::list() const {
  std::vector<CacheEntryInfo> out;
  out.reserve(index_.size());
  for (const Entry& e : lru_) out.push_back(*info(std::string(e.packed.domain())));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.domain < b.domain; });
  return out;
}

void PolicyCache::flush() {
  index_.clear();
  lru_.clear();
  sts_.clear();
  hot_ring_.clear();
  bytes_ = 0;
  if (persistence_) persistence_->erase_all();
}

void PolicyCache::flush(const std::string& domain) {
  if (auto it = index_.find(domain); it != index_.end()) erase_entry(it->second);
  sts_.erase(domain);
  if (persistence_) {
    persistence_->erase_decision(domain);
    persistence_->erase_sts(domain);
  }
}

std::size_t PolicyCache::memory_estimate() const {
  // list node (2 pointers + Entry), hash node (key, iterator, next, cached hash), bucket,
  // and malloc's own overhead for the three blocks.
  constexpr std::size_t per_entry =
      2 * sizeof(void*) + sizeof(Entry) + 5 * sizeof(void*) + sizeof(void*) + 3 * 2 * sizeof(void*);
  std::size_t n = bytes_ + index_.size() * per_entry;
  for (const std::string& domain : hot_ring_) {  // unpacked copies: roughly twice the packed size
    auto it = index_.find(domain);
    if (it != index_.end() && it->second->hot)
      n += sizeof(PolicyDecision) + 2 * it->second->packed.bytes() + string_heap(domain);
  }
  for (const auto& [domain, c] : sts_)
    n += 64 + string_heap(domain) + sizeof(CachedSts) + strings_bytes(c.policy.mx) +
         strings_bytes(c.policy.lines) + string_heap(c.policy.id);
  return n;
}

std::optional<CachedSts> PolicyCache::get_sts(const std::string& domain) {
  auto it = sts_.find(domain);
  if (it == sts_.end()) return std::nullopt;
  if (it->second.fetched_at + std::chrono::seconds(it->second.policy.max_age) <= clock_.now()) {
    sts_.erase(it);  // RFC 8461 §5.1: only until max_age
    if (persistence_) persistence_->erase_sts(domain);
    return std::nullopt;
  }
  return it->second;
}

void PolicyCache::put_sts(const std::string& domain, const CachedSts& entry) {
  sts_[domain] = entry;
  if (persistence_) persistence_->put_sts(domain, entry);
}

void PolicyCache::erase_sts(const std::string& domain) {
  sts_.erase(domain);
  if (persistence_) persistence_->erase_sts(domain);
}

}  // namespace tlsfence::policy
