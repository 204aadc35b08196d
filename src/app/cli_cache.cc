// `tlsfence cache list|flush|refresh [DOMAIN]` — the shared cache file (cache.db).
//
// list     reads cache.db read-only (safe while tlsfenced writes it): every decision with its
//          socketmap answer and expiry, and the MTA-STS policies kept for RFC 8461 §5.1.
// flush    deletes the decision and MTA-STS policy of DOMAIN (or everything) from cache.db and,
//          when a tlsfenced runs on that file, from its memory too (store/control.h). With
//          [fleet] postgresql also from the fleet database and every host's memory (cli_db.cc).
// refresh  resolves DOMAIN (or every cached domain) afresh now. With a running tlsfenced the
//          daemon does it (its memory and cache.db); without one, in process into cache.db.
//          Like any resolution, a failure keeps a still-valid earlier policy (stale-on-failure,
//          RFC 8461 §5.1 for MTA-STS): refresh never weakens a policy; flush forgets it.
#include <ctime>
#include <filesystem>
#include <iostream>

#include "app/cli_commands.h"
#include "app/policy_stack.h"
#include "doors/socketmap/answer.h"
#include "parse/domain.h"
#include "store/cache_reader.h"
#include "store/control.h"
#include "util/log.h"

// g++ 12 at -O2 reports a false -Wmismatched-new-delete inside Asio's coroutine frame
// allocator (thread_info_base.hpp).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace tlsfence {
namespace {

std::string utc(std::chrono::system_clock::time_point t) {
  const std::time_t s = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The normalised domain of a command-line argument, or "" after printing why not.
// How long the CLI waits for a running tlsfenced to carry out a request.
constexpr std::chrono::seconds kFlushWait{10};
constexpr std::chrono::minutes kRefreshWait{10};

// Asks the running tlsfenced (if any) to carry out `op`. Returns its result text; `status` is
// set to 2 when it could not be asked, to -1 when no daemon runs on this cache.db.
std::string ask_daemon(const Config& cfg, const char* op, const std::string& only,
                       std::chrono::milliseconds wait, int& status) {
  status = 0;
  const auto daemon = store::running_daemon(cfg.cache.db);
  if (!daemon) {
    status = -1;
    return {};
  }
  std::string result, error;
  switch (store::request_control(cfg.cache.db, op, only, wait, result, error, daemon->pid)) {
    case store::ControlOutcome::done:
      if (result.starts_with("error:")) {
        std::cerr << "tlsfence: cache " << op << ": tlsfenced (pid " << daemon->pid << ") " << result << "\n";
        status = 2;
      }
      return result;
    case store::ControlOutcome::timed_out:
      std::cerr << "tlsfence: cache " << op << ": tlsfenced (pid " << daemon->pid
                << ") did not answer within "
                << std::chrono::duration_cast<std::chrono::seconds>(wait).count()
                << " s; the request stays queued for it\n";
      status = 2;
      return {};
    case store::ControlOutcome::failed:
      std::cerr << "tlsfence: cache " << op << ": asking tlsfenced (pid " << daemon->pid << ") through "
                << cfg.cache.db << " failed: " << error << "\n";
      status = 2;
      return {};
  }
  return {};
}

std::string domain_arg(const std::string& arg) {
  const auto hop = parse::parse_next_hop(arg);
  if (hop.kind != parse::NextHopKind::domain) {
    std::cerr << "tlsfence: cache: \"" << arg << "\" is not a domain name"
              << (hop.error.empty() ? "" : " (" + hop.error + ")") << "\n";
    return {};
  }
  return hop.domain;
}

int cache_list(const Config& cfg, const std::string& only) {
  std::error_code ec;
  if (!std::filesystem::exists(cfg.cache.db, ec)) {
    std::cerr << "tlsfence: cache list: " << cfg.cache.db << " does not exist yet (nothing cached)\n";
    return only.empty() ? 0 : 1;
  }
  std::string error;
  auto reader = store::CacheReader::open(cfg.cache.db, error, [](std::string line) {
    log::warning("cache.db row skipped", {{"detail", line}});
  });
  if (!reader) {
    std::cerr << "tlsfence: cache list: " << cfg.cache.db << ": " << error << "\n";
    return 2;
  }
  const auto now = std::chrono::system_clock::now();
  const auto options = socketmap::AnswerOptions::from(cfg.socketmap);
  std::size_t n = 0;
  for (const auto& row : reader->decisions()) {
    if (!only.empty() && row.decision.domain != only) continue;
    const char* state = now < row.expires_at ? "fresh" : now < row.valid_until ? "stale" : "expired";
    std::cout << row.decision.domain << "\t" << socketmap::format_answer(row.decision, options)
              << "\tsource=" << to_string(row.decision.source) << "\t" << state << " until "
              << utc(row.expires_at) << "\n";
    ++n;
  }
  for (const auto& row : reader->all_sts()) {
    if (!only.empty() && row.domain != only) continue;
    const auto& p = row.sts.policy;
    std::cout << row.domain << "\tMTA-STS id=" << p.id << " mode=" << to_string(p.mode)
              << " fetched=" << utc(row.sts.fetched_at)
              << " expires=" << utc(row.sts.fetched_at + std::chrono::seconds(p.max_age)) << "\n";
    ++n;
  }
  if (n == 0 && !only.empty()) {
    std::cerr << "tlsfence: cache list: " << only << " is not in " << cfg.cache.db << "\n";
    return 1;
  }
  return 0;
}

int cache_flush(const Config& cfg, const std::string& only) {
  SystemClock clock;
  bool failed = false;
  {
    store::CacheDb db(
        cfg.cache.db,
        [&failed](std::string line) {
          failed = true;
          std::cerr << "tlsfence: cache flush: " << line << "\n";
        },
        clock);
    if (only.empty()) {
      db.erase_all();
    } else {
      db.erase_decision(only);
      db.erase_sts(only);
    }
    if (!db.sync()) failed = true;
  }
  if (failed) return 2;
  const std::string what = only.empty() ? std::string("every domain") : only;
  std::cout << "flushed " << what << " from " << cfg.cache.db << "\n";
  // [fleet]: the stored rows of every host, and every host's memory (NOTIFY).
  if (!cfg.fleet.postgresql.empty()) {
    if (const int fleet_status = fleet_cache_flush(cfg, only); fleet_status != 0) return fleet_status;
  }
  int status = 0;
  const std::string result = ask_daemon(cfg, "flush", only, kFlushWait, status);
  if (status == -1) {
    std::cout << "no tlsfenced is running on " << cfg.cache.db << "\n";
    return 0;
  }
  if (status != 0) return status;
  std::cout << "running tlsfenced: " << result << "\n";
  return 0;
}

int cache_refresh(const Config& cfg, const std::string& only) {
  int status = 0;
  const std::string result = ask_daemon(cfg, "refresh", only, kRefreshWait, status);
  if (status != -1) {
    if (status != 0) return status;
    std::cout << result;  // "DOMAIN\tANSWER" lines, as below
    return result.find("\tTEMP ") != std::string::npos ? 1 : 0;
  }
  // No daemon: resolve in process and store into cache.db.
  status = 0;
  std::vector<std::string> domains;
  if (!only.empty()) {
    domains.push_back(only);
  } else {
    std::string error;
    if (auto reader = store::CacheReader::open(cfg.cache.db, error)) {
      for (const auto& row : reader->decisions()) domains.push_back(row.decision.domain);
    }
  }
  asio::io_context io;
  PolicyStack stack(io, cfg, PolicyStack::CacheFile::read_write);
  const auto options = socketmap::AnswerOptions::from(cfg.socketmap);
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        for (const PolicyDecision& d : co_await stack.refresh(domains)) {
          std::cout << d.domain << "\t" << socketmap::format_answer(d, options) << "\n";
          if (d.verdict == Verdict::temp_fail) status = 1;
        }
      },
      [&](std::exception_ptr e) {
        io.stop();
        if (e) std::rethrow_exception(e);
      });
  io.run();
  return status;
}

}  // namespace

int cli_cache(const Config& cfg, const std::vector<std::string>& args) {
  std::string only;
  if (args.size() > 1) {
    only = domain_arg(args[1]);
    if (only.empty()) return 2;
  }
  if (args.at(0) == "list") return cache_list(cfg, only);
  if (args.at(0) == "flush") return cache_flush(cfg, only);
  return cache_refresh(cfg, only);
}

}  // namespace tlsfence
