// Writes one MTA-STS decision for bench.example into a cache.db, valid for a year, so a
// tlsfenced started on that file answers the benchmark's request from its memory cache at once
// (what a restarted daemon does with a real domain it resolved before). No DNS or HTTPS needed.
//
//   bench_socketmap_prime CACHE_DB
#include <cstdio>
#include <memory>
#include <string>

#include "store/cache_db.h"
#include "tlsfence/clock.h"
#include "tlsfence/policy.h"

using namespace tlsfence;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: bench_socketmap_prime CACHE_DB\n");
    return 2;
  }
  SystemClock clock;
  auto d = std::make_shared<PolicyDecision>();
  d->domain = "bench.example";
  d->verdict = Verdict::policy;
  d->source = Source::mta_sts;
  d->level = "secure match=mx.bench.example servername=hostname";
  d->mx_dnssec = DnssecState::insecure;
  d->sts = StsPolicy{StsPolicy::Mode::enforce,
                     {"mx.bench.example"},
                     31'557'600,
                     "20240101",
                     {"version: STSv1", "mode: enforce", "mx: mx.bench.example", "max_age: 31557600"}};
  d->ttl = 31'557'600;
  d->decided_at = clock.now();
  d->reasons = {"MX RRset insecure: DANE does not apply", "MTA-STS policy id 20240101 fetched, mode enforce"};
  const auto until = clock.now() + std::chrono::seconds(d->ttl);
  bool ok = false;
  {
    store::CacheDb db(
        argv[1], [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }, clock);
    db.put_decision(d, until, until);
    ok = db.sync();
  }
  if (!ok) {
    std::fprintf(stderr, "bench_socketmap_prime: could not write %s\n", argv[1]);
    return 1;
  }
  return 0;
}
