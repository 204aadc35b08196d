// `tlsfence check [--json] DOMAIN`: a mail administrator's live diagnostic. Resolves the
// policy exactly as the daemon would (the same PolicyService over libunbound and the MTA-STS
// fetcher, with the config's overrides and enforce-testing) but with no cache at all: cache.db
// is neither read nor written, and MTA-STS policies live in a throwaway in-memory store.
// Then shows the records behind the decision, probes every MX address with STARTTLS and
// prints a verdict (src/check). Exit status: 0 the policy was determined and every MX address
// passes it, or there is no policy; 1 TEMP (policy undeterminable) or FAIL (some MX would be
// refused); 2 usage or config error (bad DOMAIN, unloadable CA file or DNS configuration).
#include <filesystem>
#include <iostream>
#include <optional>

#include "app/cli_commands.h"
#include "app/policy_stack.h"
#include "check/output.h"
#include "check/run.h"
#include "dns/unbound_resolver.h"
#include "doors/socketmap/answer.h"
#include "https/sts_https_fetcher.h"
#include "parse/domain.h"
#include "policy/memory_sts_store.h"
#include "policy/service.h"

// g++ 12 at -O2 reports a false -Wmismatched-new-delete inside Asio's coroutine frame
// allocator (thread_info_base.hpp).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace tlsfence {
namespace {

// One STARTTLS probe (connect, banner, EHLO, STARTTLS, handshake) of one address may take this
// long; a server that drips its banner byte by byte is cut off here.
constexpr std::chrono::seconds kProbeTimeout{20};

// As the daemon (policy_stack.cc): libunbound's auto-trust-anchor copy lives beside cache.db,
// so the check validates with the same (possibly rolled) root key. cache.db itself is not opened.
std::filesystem::path anchor_dir(const std::string& db) {
  std::filesystem::path dir = std::filesystem::path(db).parent_path();
  std::error_code ec;
  if (dir.empty() || !std::filesystem::is_directory(dir, ec)) return {};
  return dir;
}

}  // namespace

int cli_check(const Config& cfg, bool json, const std::string& domain_arg) {
  const parse::NextHop hop = parse::parse_next_hop(domain_arg);
  if (hop.kind == parse::NextHopKind::not_a_domain) {
    std::cerr << "tlsfence: check: " << domain_arg
              << " is not a domain name (IP literal, [host] or host:port); check expects a mail domain\n";
    return 2;
  }
  if (hop.kind != parse::NextHopKind::domain) {
    std::cerr << "tlsfence: check: invalid domain " << domain_arg << ": " << hop.error << "\n";
    return 2;
  }

  asio::io_context io;
  std::optional<dns::UnboundResolver> resolver;
  std::unique_ptr<StsFetcher> https_fetcher;
  std::optional<check::StarttlsProber> prober;
  std::optional<check::RecordingDns> recording_dns;
  std::optional<check::RecordingFetcher> fetcher;
  try {
    resolver.emplace(io, cfg.dns, anchor_dir(cfg.cache.db));
    recording_dns.emplace(*resolver);
    https_fetcher = https::make_sts_fetcher(*recording_dns, https::sts_fetcher_options(cfg.mta_sts));
    fetcher.emplace(*https_fetcher);
    check::ProbeOptions probe_options;
    probe_options.timeout = kProbeTimeout;
    probe_options.ca_file = cfg.mta_sts.ca_file;
    prober.emplace(probe_options);
  } catch (const std::exception& e) {
    std::cerr << "tlsfence: check: " << e.what() << "\n";
    return 2;
  }
  policy::MemoryStsStore sts_store;  // throwaway: nothing is remembered after this run
  SystemClock clock;
  policy::ServiceOptions options = service_options(cfg);
  options.on_decision = nullptr;  // the report shows the decision; no decision log line
  policy::PolicyService service(options, *recording_dns, *fetcher, sts_store, clock, /*cache=*/nullptr);

  std::optional<check::CheckReport> report;
  std::exception_ptr failure;
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        report = co_await check::run_check(hop.domain, service, *recording_dns, *fetcher, *prober);
      },
      [&](std::exception_ptr e) {
        failure = e;
        io.stop();
      });
  io.run();
  if (failure) std::rethrow_exception(failure);

  report->answer = socketmap::format_answer(report->decision, socketmap::AnswerOptions::from(cfg.socketmap));
  if (json) {
    std::cout << check::report_json(*report).dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  } else {
    std::cout << check::report_text(*report);
  }
  std::cout.flush();
  return report->exit_status;
}

}  // namespace tlsfence
