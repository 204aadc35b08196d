// PolicyStack: wiring of resolver, fetcher, cache, cache.db and PolicyService.
#include "app/policy_stack.h"

#include <filesystem>

#include "app/fleet_link.h"
#include "dns/unbound_resolver.h"
#include "https/sts_https_fetcher.h"
#include "store/cache_reader.h"
#include "util/log.h"

// g++ 12 at -O2 reports a false -Wmismatched-new-delete inside Asio's coroutine frame
// allocator (thread_info_base.hpp).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace tlsfence {
namespace {

std::filesystem::path state_dir_of(const std::string& db) {
  std::filesystem::path dir = std::filesystem::path(db).parent_path();
  std::error_code ec;
  if (dir.empty() || !std::filesystem::is_directory(dir, ec)) return {};
  return dir;
}

// The CLI's view of cache.db: restore what is still valid, write nothing.
std::size_t restore_read_only(const std::string& path, policy::PolicyCache& cache, const Clock& clock) {
  std::error_code ec;
  if (path.empty() || !std::filesystem::exists(path, ec)) return 0;
  std::string error;
  auto reader = store::CacheReader::open(path, error, [](std::string line) {
    log::warning("cache.db row skipped", {{"detail", line}});
  });
  if (!reader) {
    log::warning("cache.db not readable; resolving without it", {{"db", path}, {"error", error}});
    return 0;
  }
  const auto now = clock.now();
  std::size_t n = 0;
  for (auto& row : reader->decisions()) {
    if (row.valid_until <= now) continue;
    cache.restore(std::move(row.decision), row.expires_at, row.valid_until);
    ++n;
  }
  for (auto& row : reader->all_sts()) {
    cache.restore_sts(row.domain, std::move(row.sts));
    ++n;
  }
  return n;
}

}  // namespace

Task<std::vector<PolicyDecision>> PolicyStack::refresh(std::vector<std::string> domains) {
  const std::string only = domains.size() == 1 ? domains.front() : std::string();
  if (domains.empty())
    for (const auto& e : cache_->list()) domains.push_back(e.domain);
  std::vector<PolicyDecision> out;
  for (const auto& d : domains) {
    out.push_back(co_await service_->refresh(d));
  }
  if (fleet_) fleet_->refreshed(only);  // after the refreshed rows' writes (one queue, in order)
  co_return out;
}

void log_decision(const PolicyDecision& d, bool from_cache) {
  if (!log::enabled(from_cache ? LogLevel::debug : LogLevel::info)) return;
  const std::string answer = d.verdict == Verdict::policy      ? d.level
                             : d.verdict == Verdict::temp_fail ? d.temp_reason
                                                               : std::string();
  log::write(from_cache ? LogLevel::debug : LogLevel::info, "policy decided",
             {{"domain", d.domain},
              {"verdict", to_string(d.verdict)},
              {"source", to_string(d.source)},
              {"answer", answer},
              {"dnssec", to_string(d.mx_dnssec)},
              {"result_type", d.result_type},
              {"ttl", d.ttl},
              {"cached", from_cache}});
}

policy::ServiceOptions service_options(const Config& config) {
  policy::ServiceOptions options;
  options.enforce_testing = config.socketmap.enforce_testing;
  options.overrides = config.local.override_rules;
  options.on_decision = log_decision;
  return options;
}

PolicyStack::PolicyStack(asio::io_context& io, const Config& config, CacheFile mode) {
  dns_ = std::make_unique<dns::UnboundResolver>(io, config.dns, state_dir_of(config.cache.db));
  counted_dns_ = std::make_unique<observe::CountingDns>(*dns_);
  fetcher_ = https::make_sts_fetcher(*counted_dns_, https::sts_fetcher_options(config.mta_sts));
  counted_fetcher_ = std::make_unique<observe::CountingFetcher>(*fetcher_);
  if (mode == CacheFile::read_write) {
    db_ = std::make_unique<store::CacheDb>(
        config.cache.db,
        [](std::string line) {
          log::warning("cache.db", {{"detail", line}});
        },
        clock_);
  }
  policy::CachePersistence* persistence = db_.get();
  if (!config.fleet.postgresql.empty()) {
    fleet_ = std::make_unique<FleetLink>(io, config, clock_, db_.get(), mode == CacheFile::read_only);
    persistence = fleet_->persistence();
  }
  cache_ = std::make_unique<policy::PolicyCache>(io.get_executor(), clock_,
                                                 policy::CacheOptions::from(config.cache), persistence);
  if (db_) {
    loaded_ = db_->load_into(*cache_);
  } else {
    loaded_ = restore_read_only(config.cache.db, *cache_, clock_);
  }
  service_ = std::make_unique<policy::PolicyService>(counted(service_options(config)), *counted_dns_,
                                                     *counted_fetcher_, *cache_, clock_, cache_.get());
  if (fleet_) fleet_->attach(*cache_, *service_);
}

void PolicyStack::reconfigure(const Config& config) {
  service_->reconfigure(counted(service_options(config)));
}

// Every resolution (not a cache hit) is counted before the decision's log line. The hook runs on
// every cache hit too: log_decision is called directly, not through a second std::function.
policy::ServiceOptions PolicyStack::counted(policy::ServiceOptions options) {
  options.on_decision = [this](const PolicyDecision& d, bool from_cache) {
    if (!from_cache) resolutions_.count(d);
    log_decision(d, from_cache);
  };
  return options;
}

PolicyStack::~PolicyStack() = default;

std::vector<std::string> PolicyStack::state_files() const {
  std::vector<std::string> files;
  if (db_) {
    for (const char* suffix : {"", "-wal", "-shm"}) files.push_back(db_->path() + suffix);
  }
  if (dns_ && !dns_->trust_anchor_in_use().empty()) files.push_back(dns_->trust_anchor_in_use());
  return files;
}

}  // namespace tlsfence
