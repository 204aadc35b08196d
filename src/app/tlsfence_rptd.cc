// tlsfence-rptd — the TLS-RPT sidecar: config, logging, signals, privilege drop, sd_notify on
// the shared Daemon skeleton. Its collectors and the daily report job plug in as Services.
#include <variant>

#include "config/load.h"
#include "util/daemon.h"
#include "util/log.h"

int main(int argc, char** argv) {
  using namespace tlsfence;
  auto started = config::startup(argc, argv, ProgramKind::rptd);
  if (auto* code = std::get_if<int>(&started)) return *code;
  auto& s = std::get<config::Startup>(started);
  log::init("tlsfence-rptd", s.config->daemon.log, s.config->daemon.log_level);

  config::CommandLine cmd = s.command_line;
  Daemon daemon("tlsfence-rptd", s.config, [cmd] { return config::load(cmd, nullptr); });
  return daemon.run();
}
