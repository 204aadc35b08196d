// Command line of the three programs (Boost.Program_options), their --help and --version, and
// the start-up helper main() calls.
#include <boost/program_options.hpp>
#include <iostream>
#include <sstream>

#include "config/load.h"
#include "config/schema.h"
#include "tlsfence/version.h"

namespace po = boost::program_options;

namespace tlsfence::config {
namespace {

constexpr unsigned kHelpWidth = 100;

bool is_key_option(std::string_view a) {
  if (!a.starts_with("--")) return false;
  std::string_view name = a.substr(2, a.find('=') == std::string_view::npos ? a.npos : a.find('=') - 2);
  return name.find('.') != std::string_view::npos;
}

po::options_description general_options() {
  po::options_description d("Options", kHelpWidth, kHelpWidth / 2);
  d.add_options()("config", po::value<std::string>()->value_name("FILE"),
                  "config file (default /etc/tlsfence/tlsfence.conf)")("help,h", "print this help and exit")(
      "version", "print the version and exit");
  return d;
}

po::options_description key_options(bool with_help) {
  po::options_description all("Config keys (--SECTION.KEY=VALUE, beats the file)", kHelpWidth,
                              kHelpWidth / 2);
  for (std::string_view section : sections()) {
    po::options_description group("[" + std::string(section) + "]", kHelpWidth, kHelpWidth / 2);
    for (const KeyInfo& k : schema()) {
      if (!k.name.starts_with(std::string(section) + ".")) continue;
      std::string help = std::string(k.help);
      if (with_help)
        help += " (default: " + (k.default_text.empty() ? "empty" : std::string(k.default_text)) + ")";
      group.add_options()(std::string(k.name).c_str(),
                          po::value<std::vector<std::string>>()->value_name("VALUE")->composing(),
                          help.c_str());
    }
    all.add(group);
  }
  return all;
}

std::string usage(ProgramKind kind) {
  switch (kind) {
    case ProgramKind::daemon:
      return "Usage: tlsfenced [--config FILE] [--SECTION.KEY=VALUE]...\n"
             "The tlsfence daemon: socketmap, policy delegation and milter doors over one policy service.\n"
             "Runs in the foreground; SIGHUP reloads the config, SIGTERM/SIGINT stop it.\n";
    case ProgramKind::rptd:
      return "Usage: tlsfence-rptd [--config FILE] [--SECTION.KEY=VALUE]...\n"
             "The TLS-RPT sidecar: collects TLS outcomes, builds and delivers daily RFC 8460 reports.\n"
             "Runs in the foreground; SIGHUP reloads the config, SIGTERM/SIGINT stop it.\n";
    case ProgramKind::cli:
      return "Usage: tlsfence [--config FILE] [--SECTION.KEY=VALUE]... COMMAND [ARGS]\n"
             "Commands:\n"
             "  query DOMAIN...                  the socketmap's answer for each domain, one line each\n"
             "  explain [--json] DOMAIN          the decision with its reasons\n"
             "  check [--json] DOMAIN            live DNS + MTA-STS + TLS-RPT records, STARTTLS probe of\n"
             "                                   each MX, verdict (no cache); exit 0 OK or no policy,\n"
             "                                   1 TEMP or FAIL (an MX would be refused), 2 usage error\n"
             "  cache list|flush|refresh [DOMAIN]\n"
             "  db status                        the fleet database ([fleet] postgresql): schema, hosts\n"
             "  report ingest (--postfix-log FILE | --sendmail-log FILE)\n"
             "  report build --day YYYY-MM-DD [--out DIR] [--all]\n"
             "                                   write that day's reports of the domains with one\n"
             "                                   valid _smtp._tls record (--all: every domain)\n"
             "  report send --day YYYY-MM-DD     build and deliver that day's reports (exit 1: an\n"
             "                                   attempt failed)\n"
             "  report list                      reports, their rua and delivery attempts\n"
             "Exit status: 0 answered, 1 answered TEMP, 2 usage or config error.\n";
  }
  return {};
}

}  // namespace

std::string_view program_name(ProgramKind kind) {
  switch (kind) {
    case ProgramKind::daemon: return "tlsfenced";
    case ProgramKind::rptd: return "tlsfence-rptd";
    case ProgramKind::cli: return "tlsfence";
  }
  return "tlsfence";
}

std::string help_text(ProgramKind kind) {
  std::ostringstream out;
  out << usage(kind) << "\n" << general_options() << "\n" << key_options(true);
  return out.str();
}

std::string version_text(ProgramKind kind) {
  return std::string(program_name(kind)) + " " + TLSFENCE_VERSION + "\n";
}

CommandLine parse_command_line(int argc, const char* const* argv, ProgramKind kind) {
  CommandLine cmd;
  std::vector<std::string> global;
  std::vector<Setting> empty_values;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i] ? argv[i] : "";
    bool takes_value = false;
    if (a == "--help" || a == "-h") {
      cmd.help = true;
    } else if (a == "--version") {
      cmd.version = true;
    } else if (a == "--config" || a.starts_with("--config=")) {
      global.push_back(a);
      takes_value = a == "--config";
    } else if (is_key_option(a) && a.back() == '=') {
      // Boost.Program_options refuses "--key=" but an empty value is meaningful ("none").
      std::string key = a.substr(2, a.size() - 3);
      if (find_key(key) == nullptr)
        throw ConfigError("command line: unrecognised option '--" + printable(key) + "'");
      empty_values.push_back(Setting{key, "", "command line"});
    } else if (is_key_option(a)) {
      global.push_back(a);
      takes_value = a.find('=') == std::string::npos;
    } else if (kind == ProgramKind::cli) {
      cmd.args.push_back(a);
    } else {
      throw ConfigError("command line: unexpected argument \"" + printable(a) + "\" (see --help)");
    }
    if (takes_value) {
      if (i + 1 >= argc) throw ConfigError("command line: " + a + " needs a value");
      global.emplace_back(argv[++i]);
    }
  }
  if (cmd.help || cmd.version) return cmd;

  po::options_description desc;
  desc.add(general_options()).add(key_options(false));
  po::parsed_options parsed(&desc);
  try {
    parsed = po::command_line_parser(global)
                 .options(desc)
                 .style(po::command_line_style::unix_style & ~po::command_line_style::allow_guessing)
                 .run();
  } catch (const po::error& e) {
    throw ConfigError(std::string("command line: ") + e.what());
  }
  for (const po::option& o : parsed.options) {
    if (o.string_key == "config") {
      if (o.value.empty() || o.value.front().empty())
        throw ConfigError("command line: --config needs a file");
      cmd.config_file = o.value.front();
      cmd.config_given = true;
      continue;
    }
    for (const std::string& v : o.value) cmd.overrides.push_back(Setting{o.string_key, v, "command line"});
    if (o.value.empty()) cmd.overrides.push_back(Setting{o.string_key, "", "command line"});
  }
  cmd.overrides.insert(cmd.overrides.end(), empty_values.begin(), empty_values.end());
  return cmd;
}

std::variant<Startup, int> startup(int argc, const char* const* argv, ProgramKind kind) {
  std::string name(program_name(kind));
  try {
    Startup s;
    s.command_line = parse_command_line(argc, argv, kind);
    if (s.command_line.help) {
      std::cout << help_text(kind);
      return 0;
    }
    if (s.command_line.version) {
      std::cout << version_text(kind);
      return 0;
    }
    std::vector<std::string> warnings;
    s.config = std::make_shared<const Config>(load(s.command_line, &warnings));
    for (const std::string& w : warnings) std::cerr << name << ": warning: " << w << "\n";
    return s;
  } catch (const ConfigError& e) {
    std::cerr << name << ": config error: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace tlsfence::config
