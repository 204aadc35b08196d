// PolicyCache benchmark (run by hand): resident memory per cached domain with N synthetic
// entries (target <= 1 KiB each) and cache-hit lookups per second on one core, through the
// coroutine API the doors use (get_or_resolve) and the plain one (find_fresh).
// Optionally (--db PATH) the time to write N entries behind to cache.db and to load them
// back (a restarted daemon's warm start).
//
//   bench_cache [--entries N] [--lookups M] [--kind sts|dane|mixed] [--db PATH]
#include <unistd.h>

#include <boost/asio/redirect_error.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <string>

#include "policy/cache.h"
#include "store/cache_db.h"

#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // g++ 12 + Boost 1.74 awaitable frames

using namespace tlsfence;
using namespace tlsfence::policy;
using Steady = std::chrono::steady_clock;

namespace {

std::size_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

std::string name(std::size_t i) {
  return "d" + std::to_string(i) + ".example.org";
}

// Realistic decisions, with the reasons and policy text `tlsfence explain` shows.
PolicyDecision sts_decision(const std::string& domain, TimePoint now) {
  PolicyDecision d;
  d.domain = domain;
  d.verdict = Verdict::policy;
  d.source = Source::mta_sts;
  d.level = "secure match=.mx." + domain + " servername=hostname";
  d.mx_dnssec = DnssecState::insecure;
  d.sts = StsPolicy{StsPolicy::Mode::enforce,
                    {"*.mx." + domain},
                    604800,
                    "20240115T101500",
                    {"version: STSv1", "mode: enforce", "mx: *.mx." + domain, "max_age: 604800"}};
  d.ttl = 3600;
  d.decided_at = now;
  d.reasons = {"MX RRset is insecure (no DNSSEC): DANE does not apply",
               "_mta-sts TXT id=20240115T101500; policy fetched from https://mta-sts." + domain,
               "MTA-STS mode enforce: require a verified certificate for *.mx." + domain};
  return d;
}

PolicyDecision dane_decision(const std::string& domain, TimePoint now) {
  PolicyDecision d;
  d.domain = domain;
  d.verdict = Verdict::policy;
  d.source = Source::dane;
  d.level = "dane-only";
  d.mx_dnssec = DnssecState::secure;
  for (int h = 1; h <= 2; ++h) {
    DaneHost host;
    host.name = "mx" + std::to_string(h) + "." + domain;
    host.tlsa_base = host.name;
    host.preference = static_cast<std::uint16_t>(10 * h);
    host.address_state = host.tlsa_state = DnssecState::secure;
    host.tlsa.push_back(TlsaRecord{3, 1, 1, std::string(32, static_cast<char>(h)), true});
    host.dane = true;
    host.note = "secure TLSA RRset with a usable record";
    d.dane_hosts.push_back(std::move(host));
  }
  d.ttl = 3600;
  d.decided_at = now;
  d.reasons = {"MX RRset secure: 2 hosts", "every MX host has a secure, usable TLSA RRset: dane-only"};
  return d;
}

struct Args {
  std::size_t entries = 1'000'000, lookups = 2'000'000;
  std::string kind = "sts", db;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--entries"))
      a.entries = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--lookups"))
      a.lookups = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--kind"))
      a.kind = argv[i + 1];
    else if (!std::strcmp(argv[i], "--db"))
      a.db = argv[i + 1];
  }
  if (a.entries == 0) a.entries = 1;
  return a;
}

double seconds_since(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

// CPU time of this (single-threaded) process: unlike wall time it barely depends on what
// else the machine runs, so it is the figure to compare on a busy machine.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + ts.tv_nsec / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  SystemClock clock;
  asio::io_context io;
  CacheOptions options;
  options.max_entries = args.entries;
  options.refresh = false;  // measure pure hits

  const std::size_t rss0 = rss_bytes();
  auto cache = std::make_unique<PolicyCache>(io.get_executor(), clock, options);
  const auto t0 = Steady::now();
  for (std::size_t i = 0; i < args.entries; ++i) {
    const bool dane = args.kind == "dane" || (args.kind == "mixed" && i % 2);
    cache->insert(dane ? dane_decision(name(i), clock.now()) : sts_decision(name(i), clock.now()));
  }
  const double insert_s = seconds_since(t0);
  const std::size_t rss1 = rss_bytes();
  std::printf("entries            %zu (%s decisions)\n", cache->size(), args.kind.c_str());
  std::printf("insert             %.2f s (%.0f/s)\n", insert_s, args.entries / insert_s);
  std::printf("RSS before/after   %.1f / %.1f MiB\n", rss0 / 1048576.0, rss1 / 1048576.0);
  std::printf("RSS per entry      %.0f bytes (target <= 1024)\n", double(rss1 - rss0) / args.entries);
  std::printf("estimate per entry %.0f bytes (memory_estimate())\n",
              double(cache->memory_estimate()) / args.entries);

  // Hits through get_or_resolve, as a door calls it (coroutine per lookup).
  std::mt19937_64 rng(1);
  std::vector<std::string> keys;
  keys.reserve(4096);
  for (int i = 0; i < 4096; ++i) keys.push_back(name(rng() % args.entries));
  std::size_t answered = 0;
  PolicyCache::Resolve never = []() -> Task<PolicyDecision> { co_return PolicyDecision{}; };
  auto t1 = Steady::now();
  double c1 = cpu_seconds();
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        for (std::size_t i = 0; i < args.lookups; ++i) {
          PolicyDecision d = co_await cache->get_or_resolve(keys[i & 4095], never);
          answered += d.verdict == Verdict::policy;
        }
      },
      asio::detached);
  io.run();
  const double coro_s = seconds_since(t1), coro_cpu = cpu_seconds() - c1;
  std::printf(
      "get_or_resolve hit %.0f lookups/s wall, %.0f lookups/s per CPU-second (%.2f us CPU each, %zu "
      "answered)\n",
      args.lookups / coro_s, args.lookups / coro_cpu, 1e6 * coro_cpu / args.lookups, answered);

  answered = 0;
  t1 = Steady::now();
  c1 = cpu_seconds();
  for (std::size_t i = 0; i < args.lookups; ++i) answered += cache->find_fresh(keys[i & 4095]) != nullptr;
  const double plain_s = seconds_since(t1), plain_cpu = cpu_seconds() - c1;
  std::printf(
      "find_fresh hit     %.0f lookups/s wall, %.0f lookups/s per CPU-second (%.2f us CPU each, %zu "
      "answered)\n",
      args.lookups / plain_s, args.lookups / plain_cpu, 1e6 * plain_cpu / args.lookups, answered);

  if (!args.db.empty()) {
    auto log = [](std::string line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    {
      store::CacheDb db(args.db, log, clock);
      PolicyCache writer(io.get_executor(), clock, options, &db);
      auto t2 = Steady::now();
      for (std::size_t i = 0; i < args.entries; ++i) writer.insert(sts_decision(name(i), clock.now()));
      const double queue_s = seconds_since(t2);
      db.sync();
      std::printf("write-behind       queued in %.2f s, on disk after %.2f s\n", queue_s, seconds_since(t2));
    }
    cache.reset();
    store::CacheDb db(args.db, log, clock);
    PolicyCache restarted(io.get_executor(), clock, options, &db);
    auto t3 = Steady::now();
    const std::size_t n = db.load_into(restarted);
    std::printf("warm start         %zu entries loaded in %.2f s\n", n, seconds_since(t3));
  }
  return 0;
}
