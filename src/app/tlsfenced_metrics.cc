// tlsfenced's metrics (see tlsfenced_metrics.h).
#include "app/tlsfenced_metrics.h"

#include <memory>

#include "app/fleet_link.h"
#include "store/cache_db.h"

namespace tlsfence {
namespace {

using metrics::Type;
using metrics::Writer;

void write_doors(Writer& w, const TlsfencedParts& p) {
  w.family("tlsfence_socketmap_requests_total", Type::counter,
           "Socketmap requests by answer (OK, NOTFOUND, TEMP, PERM).");
  constexpr const char* kAnswers[] = {"OK", "NOTFOUND", "TEMP", "PERM"};
  for (std::size_t i = 0; i < socketmap::kAnswerKinds; ++i)
    w.sample({{"answer", kAnswers[i]}}, p.socketmap.answers().value(i));

  w.family("tlsfence_policy_requests_total", Type::counter,
           "Policy delegation requests by action (DUNNO, FILTER, DEFER: DEFER_IF_PERMIT and 451 answers, "
           "REJECT).");
  constexpr const char* kActions[] = {"DUNNO", "FILTER", "DEFER", "REJECT"};
  for (std::size_t i = 0; i < policyd::kActionKinds; ++i)
    w.sample({{"action", kActions[i]}}, p.policy.actions().value(i));

  const milter::MilterStats m = p.milter_stats ? p.milter_stats() : milter::MilterStats{};
  w.family("tlsfence_milter_replies_total", Type::counter,
           "Milter replies by kind (native engine): continue, accept, tempfail, reject.");
  constexpr const char* kReplies[] = {"continue", "accept", "tempfail", "reject"};
  for (std::size_t i = 0; i < milter::kReplyKinds; ++i)
    w.sample({{"reply", kReplies[i]}}, p.native_milter.counters().replies.value(i));
  w.family("tlsfence_milter_messages_total", Type::counter, "Messages the milter door saw (MAIL FROM).");
  w.sample(m.messages);
  w.family("tlsfence_milter_recipients_total", Type::counter, "Recipients the milter door saw.");
  w.sample(m.recipients);
  w.family("tlsfence_milter_forced_tls_total", Type::counter,
           "Forced-TLS messages: marked with the X-TLSfence header, or waived by TLS-Required: No.");
  w.sample({{"outcome", "marked"}}, m.forced);
  w.sample({{"outcome", "waived"}}, m.tls_required_no);
  w.family("tlsfence_reception_refused_total", Type::counter,
           "Recipients refused at RCPT for a DNSSEC-bogus domain (on-dnssec-bogus = defer|reject), by door.");
  w.sample({{"door", "policy"}}, p.policy.stats().refused);
  w.sample({{"door", "milter"}}, m.refused);
  w.family(
      "tlsfence_reception_lookups_late_total", Type::counter,
      "Reception answers given before the recipient domain's lookup finished ([reception] wait), by door.");
  w.sample({{"door", "policy"}}, p.policy.stats().lookups_late);
  w.sample({{"door", "milter"}}, m.lookups_late);

  w.family("tlsfence_request_duration_seconds", Type::histogram,
           "Time from reading a request to its answer, by door (milter: RCPT, native engine).");
  w.histogram({{"door", "socketmap"}}, p.socketmap.latency());
  w.histogram({{"door", "policy"}}, p.policy.latency());
  w.histogram({{"door", "milter"}}, p.native_milter.counters().rcpt_latency.snapshot());

  const socketmap::DoorStats sm = p.socketmap.stats();
  const policyd::DoorStats pd = p.policy.stats();
  w.family("tlsfence_door_connections_open", Type::gauge, "Open connections, by door.");
  w.sample({{"door", "socketmap"}}, sm.connections_open);
  w.sample({{"door", "milter"}}, m.connections_open);
  w.family("tlsfence_door_connections_total", Type::counter, "Connections accepted, by door.");
  w.sample({{"door", "socketmap"}}, sm.connections_total);
  w.sample({{"door", "policy"}}, pd.connections);
  w.sample({{"door", "milter"}}, m.connections);
  w.family("tlsfence_door_errors_total", Type::counter,
           "Requests a door could not answer normally, by door and kind: protocol (malformed input), "
           "internal (answered as a temporary failure), refused (connection over the door's limit).");
  w.sample({{"door", "socketmap"}, {"kind", "protocol"}}, sm.perm_replies);
  w.sample({{"door", "socketmap"}, {"kind", "internal"}}, sm.internal_errors);
  w.sample({{"door", "socketmap"}, {"kind", "refused"}}, sm.connections_refused);
  w.sample({{"door", "policy"}, {"kind", "protocol"}}, pd.protocol_errors);
  w.sample({{"door", "policy"}, {"kind", "internal"}}, pd.internal_errors);
  w.sample({{"door", "milter"}, {"kind", "protocol"}}, m.protocol_errors);
  w.sample({{"door", "milter"}, {"kind", "internal"}}, m.internal_errors);
}

void write_policy(Writer& w, PolicyStack& stack) {
  const policy::PolicyCache& cache = stack.cache();
  const policy::CacheStats& c = cache.stats();
  w.family("tlsfence_cache_entries", Type::gauge, "Decisions in the memory cache.");
  w.sample(std::uint64_t{cache.size()});
  w.family("tlsfence_cache_lookups_total", Type::counter,
           "Cache lookups: hit (fresh entry), miss (a resolution started), coalesced (waited for a "
           "resolution already running).");
  w.sample({{"result", "hit"}}, c.hits);
  w.sample({{"result", "miss"}}, c.misses);
  w.sample({{"result", "coalesced"}}, c.coalesced);
  w.family("tlsfence_cache_evictions_total", Type::counter,
           "Entries evicted by the cache bound (max-entries).");
  w.sample(c.evictions);
  w.family("tlsfence_cache_refreshes_total", Type::counter,
           "Background refreshes of entries about to expire.");
  w.sample(c.refreshes);
  w.family("tlsfence_cache_stale_served_total", Type::counter,
           "Failed resolutions answered with a still-valid earlier policy instead of TEMP.");
  w.sample(c.stale_served);
  w.family("tlsfence_cache_resolutions_in_flight", Type::gauge, "Resolutions running now.");
  w.sample(std::uint64_t{cache.in_flight()});

  stack.resolution_counts().write(w);

  w.family("tlsfence_dns_lookups_total", Type::counter,
           "DNS lookups through libunbound by outcome: secure, insecure, bogus (DNSSEC validation failed), "
           "indeterminate, servfail, timeout, error.");
  for (std::size_t i = 0; i < observe::kDnsOutcomes; ++i)
    w.sample({{"outcome", observe::to_string(static_cast<observe::DnsOutcome>(i))}},
             stack.dns_counts().outcomes().value(i));

  w.family(
      "tlsfence_mta_sts_fetches_total", Type::counter,
      "MTA-STS policy fetches by outcome: ok, or the failure (dns, address-refused, connect, tls, webpki, "
      "timeout, http-status, redirect, content-type, too-large, protocol).");
  for (std::size_t i = 0; i < observe::kFetchOutcomes; ++i)
    w.sample({{"outcome", to_string(static_cast<StsFetchResult::Error>(i))}},
             stack.fetch_counts().outcomes().value(i));

  if (const store::CacheDb* db = stack.cache_db()) {
    w.family("tlsfence_store_write_errors_total", Type::counter,
             "Failed write attempts to cache.db (the writes stay queued and are retried).");
    w.sample(db->write_errors());
    w.family("tlsfence_store_pending_writes", Type::gauge, "Writes queued for cache.db.");
    w.sample(std::uint64_t{db->pending()});
    w.family("tlsfence_store_dropped_writes_total", Type::counter,
             "Queued cache.db writes dropped while the disk kept failing (the oldest first).");
    w.sample(db->dropped());
  }
}

}  // namespace

void add_tlsfenced_metrics(MetricsListener& listener, TlsfencedParts parts) {
  auto p = std::make_shared<TlsfencedParts>(std::move(parts));
  listener.registry().add([p](Writer& w) {
    write_doors(w, *p);
    write_policy(w, p->stack);
  });
  listener.add_health([p](std::vector<std::string>& out) {
    if (const store::CacheDb* db = p->stack.cache_db(); db != nullptr && !db->healthy()) {
      const std::string why = db->last_error();
      out.push_back("cache store unwritable" + (why.empty() ? std::string() : ": " + why));
    }
    const std::uint64_t streak = p->stack.dns_counts().failure_streak();
    if (streak >= observe::CountingDns::kUnusableStreak)
      out.push_back("resolver unusable: the last " + std::to_string(streak) +
                    " DNS lookups failed (timeout, SERVFAIL or resolver error)");
    // [fleet] postgresql set and the link down: the host answers alone (no silent change of
    // what the fleet shares), which the operator should see.
    if (const FleetLink* fleet = p->stack.fleet(); fleet != nullptr && !fleet->connected())
      out.push_back("fleet database unreachable: answering as a single host until it is back");
  });
}

}  // namespace tlsfence
