// tlsfence — the command line: global options and config (config/load.h), then one
// subcommand (cli_args.h) handed to its implementation (cli_commands.h).
// Exit status: 0 answered, 1 answered TEMP, 2 usage or config error.
#include <exception>
#include <iostream>
#include <variant>

#include "app/cli_args.h"
#include "app/cli_commands.h"
#include "config/load.h"
#include "util/log.h"

int main(int argc, char** argv) {
  using namespace tlsfence;
  auto started = config::startup(argc, argv, ProgramKind::cli);
  if (auto* code = std::get_if<int>(&started)) return *code;
  auto& s = std::get<config::Startup>(started);
  const Config& cfg = *s.config;
  // The CLI talks to a person: log to stderr, warnings and errors only unless debug is asked.
  log::init("tlsfence", LogTarget::stderr_,
            cfg.daemon.log_level == LogLevel::debug ? LogLevel::debug : LogLevel::warning);

  CliCommand cmd = parse_cli_args(s.command_line.args);
  if (!cmd.error.empty()) {
    std::cerr << "tlsfence: " << cmd.error << "\n";
    return 2;
  }
  try {
    if (cmd.name == "query") return cli_query(cfg, cmd.args);
    if (cmd.name == "explain") return cli_explain(cfg, cmd.json, cmd.args.at(0));
    if (cmd.name == "check") return cli_check(cfg, cmd.json, cmd.args.at(0));
    if (cmd.name == "cache") return cli_cache(cfg, cmd.args);
    if (cmd.name == "report") return cli_report(cfg, cmd.args);
    if (cmd.name == "db") return cli_db(cfg, cmd.args);
  } catch (const std::exception& e) {
    std::cerr << "tlsfence: " << cmd.name << ": " << e.what() << "\n";
    return 1;
  }
  return 2;
}
