// tlsfenced — the daemon: config, logging, the front doors on one Daemon (util/daemon.h).
// The doors are plugged in here; until a door is implemented its listeners accept and close
// ("door not enabled").
#include <variant>

#include "config/load.h"
#include "util/daemon.h"
#include "util/log.h"

int main(int argc, char** argv) {
  using namespace tlsfence;
  auto started = config::startup(argc, argv, ProgramKind::daemon);
  if (auto* code = std::get_if<int>(&started)) return *code;
  auto& s = std::get<config::Startup>(started);
  log::init("tlsfenced", s.config->daemon.log, s.config->daemon.log_level);

  config::CommandLine cmd = s.command_line;
  Daemon daemon("tlsfenced", s.config, [cmd] { return config::load(cmd, nullptr); });
  // Front doors. socketmap: StreamHandler from src/doors/socketmap; policy: from src/doors/policyd;
  // milter: libmilter runs its own listener — replace this add_door by add_service(Service{…}).
  daemon.add_door("socketmap", s.config->socketmap.listen);
  daemon.add_door("policy", s.config->policy.listen);
  daemon.add_door("milter", s.config->milter.listen);
  return daemon.run();
}
