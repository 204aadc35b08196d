#pragma once
// Building the one immutable Config from the INI file and the command line.
//
//   tlsfenced [--config FILE] [--SECTION.KEY=VALUE | --SECTION.KEY VALUE]... [--help] [--version]
//
// The command line beats the file: a key given on the command line replaces every value the
// file gave it (for repeatable keys too). A repeatable key may repeat; its first value in the
// winning layer replaces the built-in default, and an empty value means "none" (a door with
// `listen =` has no listener). Any other key given twice in one layer is an error.
// Every problem is a ConfigError whose message names the key, and `FILE:LINE` when it came
// from the file. When --config was not given and the default file does not exist, the
// built-in defaults are used and a warning is returned.
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tlsfence/config.h"

namespace tlsfence {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class ProgramKind { daemon, rptd, cli };

inline constexpr std::string_view default_config_file = "/etc/tlsfence/tlsfence.conf";

namespace config {

// One `key = value` from the file or the command line.
struct Setting {
  std::string key;  // "section.key"
  std::string value;
  std::string origin;  // "FILE:LINE" or "command line"
};

// Reads INI text. `name` is used in messages ("FILE"). Syntax errors (no '=', key outside a
// section, unknown section, over-long line or file) throw ConfigError; keys and values are
// checked later by build_config.
std::vector<Setting> parse_ini(std::string_view text, std::string_view name);

// Applies the file's and the command line's settings to the defaults. Throws ConfigError.
Config build_config(const std::vector<Setting>& file, const std::vector<Setting>& command_line);

struct CommandLine {
  std::string config_file{default_config_file};
  bool config_given = false;
  std::vector<Setting> overrides;  // --SECTION.KEY=VALUE, in order
  std::vector<std::string> args;   // everything else, in order (the CLI's subcommand and its arguments)
  bool help = false;
  bool version = false;
};

// Separates the global options (--config, --help/-h, --version, --SECTION.KEY[=VALUE]) from
// the rest. Unknown --SECTION.KEY → ConfigError. For the daemon and rptd any other argument is
// an error; for the CLI it goes to `args`.
CommandLine parse_command_line(int argc, const char* const* argv, ProgramKind kind);

// Reads cmd.config_file (or falls back to defaults, see above) and applies cmd.overrides.
// `warnings` receives messages for the operator (may be null).
Config load(const CommandLine& cmd, std::vector<std::string>* warnings);

// --help and --version texts of each program (the options come from the schema).
std::string help_text(ProgramKind kind);
std::string version_text(ProgramKind kind);
std::string_view program_name(ProgramKind kind);

// For main(): parses everything, prints --help/--version to stdout or a config error to stderr
// ("PROGRAM: config error: MESSAGE") and warnings. Holds the exit status (0 after --help or
// --version, 2 after an error) when the program should exit now.
struct Startup {
  CommandLine command_line;
  std::shared_ptr<const Config> config;
};
std::variant<Startup, int> startup(int argc, const char* const* argv, ProgramKind kind);

}  // namespace config
}  // namespace tlsfence
