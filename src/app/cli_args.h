#pragma once
// Checking the `tlsfence` subcommand and its arguments (INTERFACE.md, "Command line"). Pure.
#include <string>
#include <vector>

namespace tlsfence {

struct CliCommand {
  std::string name;               // query | explain | check | cache | report
  bool json = false;              // explain, check
  std::vector<std::string> args;  // domains (query), {DOMAIN} (explain, check), normal form (cache, report)
  std::string error;              // non-empty: a usage error, the program exits 2
};

// `args` are the command line without the global options (see config::CommandLine::args).
CliCommand parse_cli_args(const std::vector<std::string>& args);

}  // namespace tlsfence
