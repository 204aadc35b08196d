// DANE benchmark through the test world (run by run.sh, which adds a generated signed zone):
//  1. cold: N distinct domains evaluated through one fresh libunbound resolver, at most C
//     domains in flight; prints domains/s, verdict counts and peak memory (this process and
//     libunbound's background worker, which holds the DNS cache).
//  2. one domain, R concurrent requests: (a) through PolicyCache::get_or_resolve on a fresh
//     resolver — how many DNS queries the DnsSource saw (coalescing: one set); (b) R direct
//     dane::evaluate calls on another fresh resolver, for comparison.
// Usage: bench_dane --unbound-conf FILE [--count N] [--pattern d%u.bench.test]
//                   [--concurrency C] [--same DOMAIN] [--same-count R] [--timeout S] [--explain DOMAIN]
// pragma: g++ 12 misreports Asio coroutine frames (operator new/delete of awaitable_frame).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include <sys/resource.h>
#include <unistd.h>

#include <dirent.h>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "dns/unbound_resolver.h"
#include "policy/cache.h"
#include "policy/dane.h"
#include "tlsfence/clock.h"

using namespace tlsfence;
using Steady = std::chrono::steady_clock;

namespace {

struct Options {
  std::string unbound_conf;
  unsigned count = 10'000;
  std::string pattern = "d%u.bench.test";
  unsigned concurrency = 256;
  std::string same = "d0.bench.test";
  unsigned same_count = 1'000;
  unsigned timeout = 10;
  std::string explain;
};

class CountingDns final : public DnsSource {
 public:
  explicit CountingDns(DnsSource& inner) : inner_(inner) {}
  Task<DnsAnswer> query(std::string name, std::uint16_t type) override {
    ++queries;
    co_return co_await inner_.query(std::move(name), type);
  }
  std::uint64_t queries = 0;

 private:
  DnsSource& inner_;
};

long self_peak_kib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// VmHWM of every direct child (libunbound forks its background worker: ub_ctx_async(ctx, 0)).
long children_peak_kib() {
  long total = 0;
  std::string self = std::to_string(getpid());
  DIR* d = opendir("/proc");
  if (!d) return 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream st(std::string("/proc/") + e->d_name + "/status");
    std::string line, ppid;
    long hwm = 0;
    while (std::getline(st, line)) {
      if (line.rfind("PPid:", 0) == 0) ppid = line.substr(line.find_first_not_of(" \t", 5));
      if (line.rfind("VmHWM:", 0) == 0) hwm = std::stol(line.substr(6));
    }
    if (ppid == self) total += hwm;
  }
  closedir(d);
  return total;
}

std::string name_of(const std::string& pattern, unsigned i) {
  char buf[300];
  std::snprintf(buf, sizeof buf, pattern.c_str(), i);
  return buf;
}

Config::Dns dns_config(const Options& o) {
  Config::Dns d;
  d.unbound_conf = o.unbound_conf;
  d.trust_anchor_file = "";
  d.timeout_seconds = o.timeout;
  return d;
}

void cold(const Options& o) {
  asio::io_context io;
  dns::UnboundResolver resolver(io, dns_config(o));
  unsigned next = 0, done = 0;
  std::map<std::string, unsigned> outcomes;
  std::function<void()> start_one = [&] {
    if (next >= o.count) return;
    std::string domain = name_of(o.pattern, next++);
    asio::co_spawn(io, dane::evaluate(resolver, domain), [&](std::exception_ptr e, PolicyDecision d) {
      ++done;
      std::string key =
          e ? "exception" : std::string(to_string(d.verdict)) + (d.level.empty() ? "" : " " + d.level);
      ++outcomes[key];
      start_one();
    });
  };
  auto t0 = Steady::now();
  for (unsigned i = 0; i < o.concurrency; ++i) start_one();
  io.run();
  double secs = std::chrono::duration<double>(Steady::now() - t0).count();
  long worker = children_peak_kib();
  std::printf("cold: %u domains, %u in flight, %.2f s, %.0f domains/s\n", done, o.concurrency, secs,
              done / secs);
  for (auto& [k, n] : outcomes) std::printf("  %-20s %u\n", k.c_str(), n);
  std::printf("  peak RSS: this process %ld KiB, libunbound worker %ld KiB\n", self_peak_kib(), worker);
  std::fflush(stdout);  // the next resolver forks libunbound's worker: no buffered output may be copied
}

void same_domain(const Options& o) {
  {
    asio::io_context io;
    dns::UnboundResolver resolver(io, dns_config(o));
    CountingDns counting(resolver);
    SystemClock clock;
    policy::PolicyCache cache(io.get_executor(), clock, policy::CacheOptions{});
    unsigned done = 0;
    std::map<std::string, unsigned> outcomes;
    auto t0 = Steady::now();
    for (unsigned i = 0; i < o.same_count; ++i) {
      asio::co_spawn(io,
                     cache.get_or_resolve(
                         o.same, [&]() -> Task<PolicyDecision> { return dane::evaluate(counting, o.same); }),
                     [&](std::exception_ptr, PolicyDecision d) {
                       ++done;
                       ++outcomes[std::string(to_string(d.verdict)) + " " + d.level];
                     });
    }
    io.run();
    double ms = std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
    std::printf(
        "same domain through PolicyCache: %u requests for %s, %.1f ms, %llu DNS queries issued, "
        "%llu resolutions, %llu coalesced\n",
        done, o.same.c_str(), ms, static_cast<unsigned long long>(counting.queries),
        static_cast<unsigned long long>(cache.stats().resolutions),
        static_cast<unsigned long long>(cache.stats().coalesced));
    for (auto& [k, n] : outcomes) std::printf("  %-20s %u\n", k.c_str(), n);
    std::fflush(stdout);
  }
  {
    asio::io_context io;
    dns::UnboundResolver resolver(io, dns_config(o));
    CountingDns counting(resolver);
    unsigned done = 0;
    auto t0 = Steady::now();
    for (unsigned i = 0; i < o.same_count; ++i)
      asio::co_spawn(io, dane::evaluate(counting, o.same),
                     [&](std::exception_ptr, PolicyDecision) { ++done; });
    io.run();
    double ms = std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
    std::printf(
        "same domain without cache: %u evaluations, %.1f ms, %llu DnsSource queries "
        "(libunbound answers repeats from its cache)\n",
        done, ms, static_cast<unsigned long long>(counting.queries));
  }
}

void explain(const Options& o) {
  asio::io_context io;
  dns::UnboundResolver resolver(io, dns_config(o));
  asio::co_spawn(io, dane::evaluate(resolver, o.explain), [&](std::exception_ptr, PolicyDecision d) {
    std::printf("%s: %s %s%s ttl=%u mx=%s\n", d.domain.c_str(), std::string(to_string(d.verdict)).c_str(),
                d.level.c_str(), d.temp_reason.c_str(), d.ttl, std::string(to_string(d.mx_dnssec)).c_str());
    for (auto& r : d.reasons) std::printf("  %s\n", r.c_str());
  });
  io.run();
}

}  // namespace

int main(int argc, char** argv) {
  // libunbound forks its worker (ub_ctx_async(ctx, 0)); the worker's exit would flush a
  // copy of anything still buffered here.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--unbound-conf")
      o.unbound_conf = v;
    else if (k == "--count")
      o.count = static_cast<unsigned>(std::stoul(v));
    else if (k == "--pattern")
      o.pattern = v;
    else if (k == "--concurrency")
      o.concurrency = static_cast<unsigned>(std::stoul(v));
    else if (k == "--same")
      o.same = v;
    else if (k == "--same-count")
      o.same_count = static_cast<unsigned>(std::stoul(v));
    else if (k == "--timeout")
      o.timeout = static_cast<unsigned>(std::stoul(v));
    else if (k == "--explain")
      o.explain = v;
    else {
      std::fprintf(stderr, "bench_dane: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (o.unbound_conf.empty()) {
    std::fprintf(stderr,
                 "usage: bench_dane --unbound-conf FILE [--count N] [--pattern FMT] [--concurrency C] "
                 "[--same DOMAIN] [--same-count R] [--timeout S] [--explain DOMAIN]\n");
    return 2;
  }
  try {
    if (!o.explain.empty()) {
      explain(o);
      return 0;
    }
    cold(o);
    same_domain(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_dane: %s\n", e.what());
    return 1;
  }
  return 0;
}
