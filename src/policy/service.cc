// PolicyService: next hop → decision. See service.h for the order of the rules.
#include "policy/service.h"

// g++ 12 at -O2 reports a false -Wmismatched-new-delete inside Asio's coroutine frame
// allocator (thread_info_base.hpp).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <algorithm>
#include <exception>
#include <optional>

#include "parse/domain.h"
#include "policy/cache.h"
#include "policy/dane.h"
#include "policy/sts.h"

namespace tlsfence::policy {
namespace {

// The smaller of two TTLs, where 0 means "not known".
std::uint32_t min_ttl(std::uint32_t a, std::uint32_t b) {
  if (a == 0) return b;
  if (b == 0) return a;
  return std::min(a, b);
}

}  // namespace

PolicyService::PolicyService(const ServiceOptions& options, DnsSource& dns, StsFetcher& fetcher,
                             StsStore& sts_store, const Clock& clock, PolicyCache* cache)
    : options_(options),
      overrides_(options.overrides),
      dns_(dns),
      fetcher_(fetcher),
      sts_store_(sts_store),
      clock_(clock),
      cache_(cache) {}

void PolicyService::reconfigure(const ServiceOptions& options) {
  Overrides overrides(options.overrides);  // throws before anything changes
  const bool testing_changed = options.enforce_testing != options_.enforce_testing;
  options_ = options;
  overrides_ = std::move(overrides);
  if (!testing_changed || cache_ == nullptr) return;
  for (const CacheEntryInfo& entry : cache_->list()) {
    std::optional<CachedSts> sts = cache_->get_sts(entry.domain);
    if (!sts) continue;  // no MTA-STS policy: enforce-testing cannot change the answer
    cache_->flush(entry.domain);
    cache_->put_sts(entry.domain, *sts);
  }
}

Task<PolicyDecision> PolicyService::decide(std::string next_hop) {
  co_return *co_await decide_shared(std::move(next_hop));
}

PolicyCache::Resolve PolicyService::resolver_for(std::string domain) {
  return [this, domain = std::move(domain)]() { return resolve(domain); };
}

std::shared_ptr<const PolicyDecision> PolicyService::cached_hit(std::string_view domain) {
  auto hit = cache_->find_fresh_lazy(domain, [&] { return resolver_for(std::string(domain)); });
  if (hit && options_.on_decision) options_.on_decision(*hit, true);
  return hit;
}

std::shared_ptr<const PolicyDecision> PolicyService::find_cached(std::string_view next_hop) {
  if (cache_ == nullptr || !overrides_.empty()) return nullptr;
  return cached_hit(next_hop);
}

Task<std::shared_ptr<const PolicyDecision>> PolicyService::decide_shared(std::string next_hop) {
  if (auto hit = find_cached(next_hop)) co_return hit;
  const parse::NextHop hop = parse::parse_next_hop(next_hop);
  if (hop.kind != parse::NextHopKind::domain) {
    auto d = std::make_shared<PolicyDecision>();
    d->domain = next_hop;
    d->verdict = Verdict::no_policy;
    d->source = Source::none;
    d->decided_at = clock_.now();
    d->reasons.push_back(hop.kind == parse::NextHopKind::not_a_domain
                             ? "next hop is not a domain name (IP literal, [host] or host:port): no policy"
                             : "next hop is not a valid domain name (" + hop.error + "): no policy");
    if (options_.on_decision) options_.on_decision(*d, false);
    co_return d;
  }
  // The operator's word is checked before the cache so a reload takes effect at once.
  if (const OverrideRule* rule = overrides_.find(hop.domain)) {
    auto d = std::make_shared<PolicyDecision>();
    d->domain = hop.domain;
    d->verdict = Verdict::policy;
    d->source = Source::override_rule;
    d->level = rule->level;
    d->decided_at = clock_.now();
    d->reasons.push_back("local override " + rule->pattern + ": " + rule->level);
    if (options_.on_decision) options_.on_decision(*d, false);
    co_return d;
  }
  if (cache_ == nullptr) co_return std::make_shared<const PolicyDecision>(co_await resolve(hop.domain));

  if (auto hit = cached_hit(hop.domain)) co_return hit;
  // Named, not a temporary inside the co_await: g++ 12 may destroy such temporaries twice.
  PolicyCache::Resolve resolver = resolver_for(hop.domain);
  if (shared_ != nullptr) resolver = [this, domain = hop.domain]() { return resolve_miss(domain); };
  PolicyDecision d = co_await cache_->get_or_resolve(hop.domain, std::move(resolver));
  co_return std::make_shared<const PolicyDecision>(std::move(d));
}

Task<PolicyDecision> PolicyService::refresh(std::string next_hop) {
  const parse::NextHop hop = parse::parse_next_hop(next_hop);
  if (hop.kind != parse::NextHopKind::domain || cache_ == nullptr || overrides_.find(hop.domain) != nullptr)
    co_return co_await decide(std::move(next_hop));
  // A named Resolve, not a temporary inside the co_await: g++ 12 destroys such temporaries twice.
  PolicyCache::Resolve resolver = resolver_for(hop.domain);
  co_return co_await cache_->refresh_now(hop.domain, std::move(resolver));
}

Task<PolicyDecision> PolicyService::resolve_miss(std::string domain) {
  SharedClaim claim = co_await shared_->claim(domain);
  if (claim.sts) {
    // The fleet's MTA-STS policy (RFC 8461 §5.1) unless this host holds a newer one: a re-check
    // whose TXT id is unchanged then needs no fetch.
    const std::optional<CachedSts> mine = cache_->get_sts(domain);
    if (!mine || mine->fetched_at < claim.sts->fetched_at) cache_->restore_sts(domain, std::move(*claim.sts));
  }
  if (claim.decision) co_return std::move(*claim.decision);
  if (claim.stale && !cache_->info(domain))
    cache_->restore(std::move(*claim.stale), claim.stale_expires_at, claim.stale_valid_until);
  std::exception_ptr failed;
  PolicyDecision d;
  try {
    d = co_await resolve(domain);
  } catch (...) {
    failed = std::current_exception();
  }
  if (claim.leader) shared_->resolved(domain);  // the lease is released even after a throw
  if (failed) std::rethrow_exception(failed);
  co_return d;
}

Task<PolicyDecision> PolicyService::resolve(std::string domain) {
  PolicyDecision dane = co_await dane::evaluate(dns_, domain);
  dane.domain = domain;
  dane.decided_at = clock_.now();
  // A DANE policy, or a DANE failure, is final: MTA-STS never overrides or weakens it
  // (RFC 8461 §2), and a DNS failure is never turned into "no policy".
  if (dane.verdict != Verdict::no_policy) {
    if (options_.on_decision) options_.on_decision(dane, false);
    co_return dane;
  }

  PolicyDecision sts = co_await sts::evaluate(dns_, fetcher_, sts_store_, clock_, domain,
                                              sts::Options{options_.enforce_testing});
  PolicyDecision d = std::move(sts);
  d.domain = domain;
  d.decided_at = clock_.now();
  d.mx_dnssec = dane.mx_dnssec;
  d.dane_hosts = std::move(dane.dane_hosts);
  std::vector<std::string> reasons = std::move(dane.reasons);
  reasons.insert(reasons.end(), d.reasons.begin(), d.reasons.end());
  d.reasons = std::move(reasons);
  if (d.sts && d.verdict != Verdict::temp_fail) {
    // Keep re-checking the TXT id well before max_age runs out (RFC 8461 §5.1).
    d.ttl = std::min(d.ttl, options_.sts_recheck_seconds);
  }
  if (d.verdict == Verdict::no_policy) d.ttl = min_ttl(d.ttl, dane.ttl);
  if (d.verdict == Verdict::no_policy && !d.sts)
    d.reasons.push_back("no DANE and no MTA-STS policy: NOTFOUND");
  if (options_.on_decision) options_.on_decision(d, false);
  co_return d;
}

}  // namespace tlsfence::policy
