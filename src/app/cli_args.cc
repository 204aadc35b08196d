// Argument checking for the `tlsfence` subcommands (see cli_args.h).
#include "app/cli_args.h"

#include <cctype>

namespace tlsfence {
namespace {

CliCommand usage(CliCommand c, std::string why) {
  c.error = c.name.empty() ? why : c.name + ": " + why;
  return c;
}

bool is_option(const std::string& a) {
  return a.size() > 1 && a.front() == '-';
}

bool valid_day(const std::string& d) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!std::isdigit(static_cast<unsigned char>(d[i]))) return false;
  }
  int month = std::stoi(d.substr(5, 2));
  int day = std::stoi(d.substr(8, 2));
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

// Splits "--opt=value" or "--opt value"; returns false when the value is missing.
bool take_value(const std::vector<std::string>& a, std::size_t& i, std::string& opt, std::string& value) {
  auto eq = a[i].find('=');
  if (eq != std::string::npos) {
    opt = a[i].substr(0, eq);
    value = a[i].substr(eq + 1);
    return !value.empty();
  }
  opt = a[i];
  if (i + 1 >= a.size()) return false;
  value = a[++i];
  return !value.empty();
}

CliCommand one_domain(CliCommand c, const std::vector<std::string>& rest) {
  for (const std::string& a : rest) {
    if (a == "--json") {
      c.json = true;
    } else if (is_option(a)) {
      return usage(c, "unknown option " + a);
    } else {
      c.args.push_back(a);
    }
  }
  if (c.args.size() != 1) return usage(c, "expects exactly one DOMAIN");
  return c;
}

CliCommand report(CliCommand c, const std::vector<std::string>& rest) {
  if (rest.empty()) return usage(c, "expects ingest or build");
  const std::string& sub = rest[0];
  std::string postfix_log, sendmail_log, day, out;
  bool all = false;
  for (std::size_t i = 1; i < rest.size(); ++i) {
    std::string opt, value;
    if (sub == "build" && rest[i] == "--all") {
      all = true;
      continue;
    }
    if (!is_option(rest[i])) return usage(c, "unexpected argument " + rest[i]);
    if (!take_value(rest, i, opt, value)) return usage(c, rest[i] + " needs a value");
    std::string* slot = nullptr;
    if (sub == "ingest" && opt == "--postfix-log") slot = &postfix_log;
    if (sub == "ingest" && opt == "--sendmail-log") slot = &sendmail_log;
    if ((sub == "build" || sub == "send") && opt == "--day") slot = &day;
    if (sub == "build" && opt == "--out") slot = &out;
    if (slot == nullptr) return usage(c, "unknown option " + opt + " for " + sub);
    if (!slot->empty()) return usage(c, opt + " given twice");
    *slot = value;
  }
  if (sub == "ingest") {
    if (postfix_log.empty() == sendmail_log.empty()) {
      return usage(c, "ingest expects exactly one of --postfix-log FILE, --sendmail-log FILE");
    }
    c.args = {"ingest", postfix_log.empty() ? "--sendmail-log" : "--postfix-log",
              postfix_log.empty() ? sendmail_log : postfix_log};
    return c;
  }
  if (sub == "build") {
    if (day.empty()) return usage(c, "build expects --day YYYY-MM-DD");
    if (!valid_day(day)) return usage(c, "--day expects YYYY-MM-DD, got " + day);
    c.args = {"build", "--day", day};
    if (!out.empty()) c.args.insert(c.args.end(), {"--out", out});
    if (all) c.args.push_back("--all");
    return c;
  }
  if (sub == "send") {
    if (day.empty() || !valid_day(day)) return usage(c, "send expects --day YYYY-MM-DD");
    c.args = {"send", "--day", day};
    return c;
  }
  if (sub == "list") {
    c.args = {"list"};
    return c;
  }
  return usage(c, "expects ingest, build or list, got " + sub);
}

}  // namespace

CliCommand parse_cli_args(const std::vector<std::string>& args) {
  CliCommand c;
  if (args.empty()) return usage(c, "missing command (query, explain, check, cache, report; see --help)");
  c.name = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (c.name == "query") {
    for (const std::string& a : rest) {
      if (is_option(a)) return usage(c, "unknown option " + a);
    }
    if (rest.empty()) return usage(c, "expects at least one DOMAIN");
    c.args = rest;
    return c;
  }
  if (c.name == "explain" || c.name == "check") return one_domain(c, rest);
  if (c.name == "cache") {
    if (rest.empty() || (rest[0] != "list" && rest[0] != "flush" && rest[0] != "refresh")) {
      return usage(c, "expects list, flush or refresh");
    }
    if (rest.size() > 2) return usage(c, "expects at most one DOMAIN");
    if (rest.size() == 2 && is_option(rest[1])) return usage(c, "unknown option " + rest[1]);
    c.args = rest;
    return c;
  }
  if (c.name == "db") {
    if (rest.size() != 1 || rest[0] != "status") return usage(c, "expects status");
    c.args = rest;
    return c;
  }
  if (c.name == "report") return report(c, rest);
  std::string name = c.name;
  c.name.clear();
  return usage(c, "unknown command \"" + name + "\" (query, explain, check, cache, report; see --help)");
}

}  // namespace tlsfence
