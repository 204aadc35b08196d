// Temporary definitions of the policy subcommands (the lead engineer replaces this file).
#include <cstdio>

#include "app/cli_commands.h"

namespace tlsfence {
namespace {
int not_yet(const char* cmd) {
  std::fprintf(stderr, "tlsfence: %s: not implemented yet\n", cmd);
  return 2;
}
}  // namespace

int cli_query(const Config&, const std::vector<std::string>&) {
  return not_yet("query");
}
int cli_explain(const Config&, bool, const std::string&) {
  return not_yet("explain");
}
int cli_cache(const Config&, const std::vector<std::string>&) {
  return not_yet("cache");
}
int cli_check(const Config&, bool, const std::string&) {
  return not_yet("check");
}
int cli_report(const Config&, const std::vector<std::string>&) {
  return not_yet("report");
}

}  // namespace tlsfence
