// tlsfenced — the daemon: config, logging, one PolicyStack (resolver, fetcher, cache +
// cache.db, PolicyService) and the three front doors on one Daemon (util/daemon.h):
// the socketmap, policy-delegation and (engine = native, the default) milter doors serve
// stream sockets on the daemon's io_context; with engine = libmilter the milter runs
// libmilter's own threads and posts its lookups there.
//
// Reload (SIGHUP): the Daemon re-reads the file; the reloader below also builds every rule the
// new config names (override rules, forced-TLS rules), so a bad rule refuses the whole reload
// before anything changes (the log line names the rule). The "policy" service's reload hook
// then hands [local] override and [socketmap] enforce-testing to the PolicyService, the
// [socketmap] answer options to the socketmap door and the [reception] rules to the policy and
// milter doors. Everything else (DNS, MTA-STS, cache, listen addresses) needs a restart.
//
// `tlsfence cache flush|refresh` reach the running daemon's memory through cache.db's control
// table (store/control.h): the "cache-control" service polls it and runs each request on the
// io thread.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>
#include <variant>

#include "app/metrics_listener.h"
#include "app/policy_stack.h"
#include "app/tlsfenced_metrics.h"
#include "async/asio.h"
#include "config/load.h"
#include "doors/milter/door.h"
#include "doors/milter/native.h"
#include "doors/policyd/server.h"
#include "doors/socketmap/server.h"
#include "policy/forced_tls.h"
#include "policy/overrides.h"
#include "policy/reception.h"
#include "store/control.h"
#include "util/daemon.h"
#include "util/log.h"
#include "util/privileges.h"

#include <boost/asio/use_future.hpp>

// g++ 12 at -O2 reports a false -Wmismatched-new-delete inside Asio's coroutine frame
// allocator (thread_info_base.hpp).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {

using namespace tlsfence;
using MilterHolder = std::shared_ptr<std::unique_ptr<milter::MilterDoor>>;

void log_door(LogLevel level, std::string_view line) {
  log::write(level, line);
}

// engine = libmilter: libmilter accepts one listen address per process, the first of
// [milter] listen.
Service milter_service(Daemon& daemon, PolicyLookup& lookup, const Config& cfg, MilterHolder holder,
                       std::shared_ptr<std::thread> thread) {
  Service s;
  s.name = "milter";
  s.open = [&daemon, &lookup, &cfg, holder] {
    if (cfg.milter.listen.size() > 1) {
      log::warning("milter: libmilter serves one address; extra milter.listen entries ignored",
                   {{"used", cfg.milter.listen.front()}});
    }
    *holder =
        std::make_unique<milter::MilterDoor>(lookup, daemon.io(), cfg.reception, cfg.milter.listen.front());
    (*holder)->start();  // logs "listening"
  };
  s.start = [holder, thread] {
    *thread = std::thread([holder] {
      const int rc = (*holder)->run();
      if (rc != 0) log::error("milter: libmilter stopped with an error", {{"status", rc}});
    });
  };
  s.stop = [holder, thread] {
    if (*holder) (*holder)->stop();
    if (thread->joinable()) thread->join();
  };
  return s;
}

// Every rule of a freshly read config, built once to find a bad one before anything changes
// (the ConfigError-like message names the rule). Throws std::exception.
Config checked(Config fresh) {
  policy::Overrides overrides(fresh.local.override_rules);
  policy::ForcedTls forced = policy::ForcedTls::from_config(fresh.reception);
  (void)overrides;
  (void)forced;
  return fresh;
}

// The reload hook: the new policy settings, to the service and each door. Runs on the io
// thread (the Daemon's signal handler), where the socketmap and policy doors run too.
Service policy_settings_service(PolicyStack& stack, socketmap::SocketmapDoor& socketmap_door,
                                policyd::PolicydDoor& policy_door, milter::NativeMilterDoor& native_milter,
                                MilterHolder milter) {
  Service s;
  s.name = "policy";
  s.reload = [&stack, &socketmap_door, &policy_door, &native_milter,
              milter](std::shared_ptr<const Config> cfg) {
    // Build everything first: a throw leaves every part with its old settings.
    auto reception = policy::ReceptionOptions::from_config(cfg->reception);
    auto forced = policy::ForcedTls::from_config(cfg->reception);
    stack.reconfigure(*cfg);  // throws OverrideError (naming the rule) before changing anything
    socketmap_door.set_options(socketmap::AnswerOptions::from(cfg->socketmap));
    policy_door.set_reception(reception, forced);
    native_milter.set_reception(reception, forced);
    if (*milter) (*milter)->set_reception(reception, forced);
    log::info("policy settings applied", {{"overrides", cfg->local.override_rules.size()},
                                          {"enforce_testing", cfg->socketmap.enforce_testing},
                                          {"tlsrpt_attributes", cfg->socketmap.tlsrpt_attributes},
                                          {"forced_tls", !forced.empty()}});
  };
  return s;
}

// Started as root with a daemon.user: the files the daemon keeps writing after the drop
// (cache.db, its WAL and SHM, the trust-anchor copy) were created by root; hand them to the
// user while still privileged. Only these named files, never their directory.
Service state_files_service(const PolicyStack& stack, const Config& cfg) {
  Service s;
  s.name = "state-files";
  s.open = [&stack, &cfg] {
    if (::geteuid() != 0 || cfg.daemon.user.empty()) return;
    const UserIds ids = lookup_user(cfg.daemon.user);
    for (const auto& file : stack.state_files()) {
      if (::chown(file.c_str(), ids.uid, ids.gid) == 0) {
        log::debug("state file handed to the daemon user", {{"file", file}, {"user", ids.name}});
      } else if (errno != ENOENT) {
        throw std::runtime_error("cannot hand " + file + " to user " + ids.name + ": " +
                                 std::strerror(errno));
      }
    }
  };
  return s;
}

// One `tlsfence cache flush|refresh` request, on the io thread.
Task<std::string> run_control(Daemon& daemon, PolicyStack& stack, store::ControlRequest r) {
  policy::PolicyCache& cache = stack.cache();
  if (r.op == "flush") {
    const std::size_t before = cache.size();
    if (r.domain.empty()) {
      cache.flush();
    } else {
      cache.flush(r.domain);
    }
    co_return "flushed " + std::to_string(before - cache.size()) + " decision(s) from tlsfenced's memory";
  }
  std::vector<std::string> domains;
  if (!r.domain.empty()) domains.push_back(r.domain);
  const auto options = socketmap::AnswerOptions::from(daemon.config()->socketmap);
  std::string out;
  for (const PolicyDecision& d : co_await stack.refresh(std::move(domains)))
    out += d.domain + "\t" + socketmap::format_answer(d, options) + "\n";
  co_return out;
}

Service cache_control_service(Daemon& daemon, PolicyStack& stack, const Config& cfg) {
  auto poller = std::make_shared<std::unique_ptr<store::ControlPoller>>();
  Service s;
  s.name = "cache-control";
  s.start = [&daemon, &stack, &cfg, poller] {
    auto handler = [&daemon, &stack](const store::ControlRequest& r) -> std::string {
      std::future<std::string> result =
          asio::co_spawn(daemon.io(), run_control(daemon, stack, r), asio::use_future);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
      while (result.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
        if (r.cancelled != nullptr && *r.cancelled) return "error: tlsfenced is stopping";
        if (std::chrono::steady_clock::now() > deadline) return "error: no result within 10 minutes";
      }
      return result.get();
    };
    *poller = std::make_unique<store::ControlPoller>(
        cfg.cache.db, [](std::string line) { log::info(line); }, handler);
    (*poller)->start();
  };
  s.stop = [poller] {
    if (*poller) (*poller)->stop();
  };
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  auto started = config::startup(argc, argv, ProgramKind::daemon);
  if (auto* code = std::get_if<int>(&started)) return *code;
  auto& s = std::get<config::Startup>(started);
  log::init("tlsfenced", s.config->daemon.log, s.config->daemon.log_level);

  config::CommandLine cmd = s.command_line;
  Daemon daemon("tlsfenced", s.config, [cmd] { return checked(config::load(cmd, nullptr)); });
  const Config& cfg = *s.config;

  std::unique_ptr<PolicyStack> stack;
  std::unique_ptr<socketmap::SocketmapDoor> socketmap_door;
  std::unique_ptr<policyd::PolicydDoor> policy_door;
  std::unique_ptr<milter::NativeMilterDoor> native_milter;
  try {
    stack = std::make_unique<PolicyStack>(daemon.io(), cfg, PolicyStack::CacheFile::read_write);
    log::info("cache loaded", {{"db", cfg.cache.db}, {"entries", stack->loaded()}});
    socketmap_door = std::make_unique<socketmap::SocketmapDoor>(
        stack->service(), socketmap::AnswerOptions::from(cfg.socketmap));
    socketmap_door->set_log(log_door);
    policy_door = std::make_unique<policyd::PolicydDoor>(stack->service(), cfg.reception);
    native_milter = std::make_unique<milter::NativeMilterDoor>(stack->service(), cfg.reception);
  } catch (const std::exception& e) {
    log::error("start-up failed", {{"error", e.what()}});
    return 1;
  }

  daemon.add_door("socketmap", cfg.socketmap.listen,
                  [door = socketmap_door.get()](StreamSocket sock) { return door->serve(std::move(sock)); });
  daemon.add_door("policy", cfg.policy.listen,
                  [door = policy_door.get()](StreamSocket sock) { return door->serve(std::move(sock)); });
  auto milter_door = std::make_shared<std::unique_ptr<milter::MilterDoor>>();
  if (!cfg.milter.listen.empty()) {
    log::info("milter door",
              {{"engine", cfg.milter.engine == MilterEngine::native ? "native" : "libmilter"}});
  }
  if (cfg.milter.engine == MilterEngine::native) {
    daemon.add_door("milter", cfg.milter.listen,
                    [door = native_milter.get()](StreamSocket sock) { return door->serve(std::move(sock)); });
  } else if (!cfg.milter.listen.empty()) {
    daemon.add_service(
        milter_service(daemon, stack->service(), cfg, milter_door, std::make_shared<std::thread>()));
  }
  MetricsListener metrics(daemon, "tlsfenced");
  std::function<milter::MilterStats()> milter_stats = [door = native_milter.get()] { return door->stats(); };
  if (cfg.milter.engine == MilterEngine::libmilter) {
    milter_stats = [milter_door] { return *milter_door ? (*milter_door)->stats() : milter::MilterStats{}; };
  }
  add_tlsfenced_metrics(
      metrics, TlsfencedParts{*stack, *socketmap_door, *policy_door, *native_milter, std::move(milter_stats),
                              cfg.milter.engine == MilterEngine::native});
  metrics.install(cfg.metrics.listen);
  daemon.add_service(state_files_service(*stack, cfg));
  daemon.add_service(
      policy_settings_service(*stack, *socketmap_door, *policy_door, *native_milter, milter_door));
  daemon.add_service(cache_control_service(daemon, *stack, cfg));
  return daemon.run();
}
