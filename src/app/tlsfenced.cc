// tlsfenced — the daemon: config, logging, one PolicyStack (resolver, fetcher, cache +
// cache.db, PolicyService) and the three front doors on one Daemon (util/daemon.h):
// the socketmap and the policy-delegation doors serve stream sockets on the daemon's
// io_context; the milter runs libmilter's own threads and posts its lookups there.
#include <memory>
#include <thread>
#include <variant>

#include "app/policy_stack.h"
#include "config/load.h"
#include "doors/milter/door.h"
#include "doors/policyd/server.h"
#include "doors/socketmap/server.h"
#include "util/daemon.h"
#include "util/log.h"

// g++ 12 at -O2 reports a false -Wmismatched-new-delete inside Asio's coroutine frame
// allocator (thread_info_base.hpp).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {

using namespace tlsfence;

void log_door(LogLevel level, std::string_view line) {
  log::write(level, line);
}

// libmilter accepts one listen address per process: the first of [milter] listen.
Service milter_service(Daemon& daemon, PolicyLookup& lookup, const Config& cfg,
                       std::shared_ptr<std::unique_ptr<milter::MilterDoor>> holder,
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
    (*holder)->start();
    log::info("listening", {{"door", "milter"}, {"address", cfg.milter.listen.front()}});
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

}  // namespace

int main(int argc, char** argv) {
  auto started = config::startup(argc, argv, ProgramKind::daemon);
  if (auto* code = std::get_if<int>(&started)) return *code;
  auto& s = std::get<config::Startup>(started);
  log::init("tlsfenced", s.config->daemon.log, s.config->daemon.log_level);

  config::CommandLine cmd = s.command_line;
  Daemon daemon("tlsfenced", s.config, [cmd] { return config::load(cmd, nullptr); });
  const Config& cfg = *s.config;

  std::unique_ptr<PolicyStack> stack;
  std::unique_ptr<socketmap::SocketmapDoor> socketmap_door;
  std::unique_ptr<policyd::PolicydDoor> policy_door;
  try {
    stack = std::make_unique<PolicyStack>(daemon.io(), cfg, PolicyStack::CacheFile::read_write);
    log::info("cache loaded", {{"db", cfg.cache.db}, {"entries", stack->loaded()}});
    socketmap_door = std::make_unique<socketmap::SocketmapDoor>(
        stack->service(), socketmap::AnswerOptions::from(cfg.socketmap));
    socketmap_door->set_log(log_door);
    policy_door = std::make_unique<policyd::PolicydDoor>(stack->service(), cfg.reception);
  } catch (const std::exception& e) {
    log::error("start-up failed", {{"error", e.what()}});
    return 1;
  }

  daemon.add_door("socketmap", cfg.socketmap.listen,
                  [door = socketmap_door.get()](StreamSocket sock) { return door->serve(std::move(sock)); });
  daemon.add_door("policy", cfg.policy.listen,
                  [door = policy_door.get()](StreamSocket sock) { return door->serve(std::move(sock)); });
  if (!cfg.milter.listen.empty()) {
    daemon.add_service(milter_service(daemon, stack->service(), cfg,
                                      std::make_shared<std::unique_ptr<milter::MilterDoor>>(),
                                      std::make_shared<std::thread>()));
  }
  return daemon.run();
}
