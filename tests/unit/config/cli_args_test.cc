// The `tlsfence` subcommand syntax of INTERFACE.md.
#include <gtest/gtest.h>

#include "app/cli_args.h"

namespace tlsfence {
namespace {

using V = std::vector<std::string>;

TEST(CliArgs, Accepted) {
  auto q = parse_cli_args({"query", "a.example", "b.example"});
  EXPECT_EQ(q.error, "");
  EXPECT_EQ(q.args, (V{"a.example", "b.example"}));
  auto e = parse_cli_args({"explain", "--json", "a.example"});
  EXPECT_EQ(e.error, "");
  EXPECT_TRUE(e.json);
  EXPECT_EQ(e.args, V{"a.example"});
  auto c = parse_cli_args({"check", "a.example"});
  EXPECT_FALSE(c.json);
  EXPECT_EQ(parse_cli_args({"cache", "flush"}).args, V{"flush"});
  EXPECT_EQ(parse_cli_args({"cache", "refresh", "a.example"}).args, (V{"refresh", "a.example"}));
  EXPECT_EQ(parse_cli_args({"report", "ingest", "--postfix-log=/var/log/mail.log"}).args,
            (V{"ingest", "--postfix-log", "/var/log/mail.log"}));
  EXPECT_EQ(parse_cli_args({"report", "ingest", "--sendmail-log", "/l"}).args,
            (V{"ingest", "--sendmail-log", "/l"}));
  EXPECT_EQ(parse_cli_args({"report", "build", "--day", "2026-11-21", "--out", "/tmp/o"}).args,
            (V{"build", "--day", "2026-11-21", "--out", "/tmp/o"}));
}

TEST(CliArgs, UsageErrors) {
  const V bad[] = {{},
                   {"frobnicate"},
                   {"query"},
                   {"query", "--json", "a"},
                   {"explain"},
                   {"explain", "a", "b"},
                   {"explain", "--xml", "a"},
                   {"check"},
                   {"cache"},
                   {"cache", "drop"},
                   {"cache", "list", "a", "b"},
                   {"report"},
                   {"report", "send"},
                   {"report", "ingest"},
                   {"report", "ingest", "--postfix-log", "a", "--sendmail-log", "b"},
                   {"report", "ingest", "--postfix-log"},
                   {"report", "build"},
                   {"report", "build", "--day", "21-11-2026"},
                   {"report", "build", "--day", "2026-13-01"},
                   {"report", "build", "--day", "2026-11-21", "--out"},
                   {"report", "build", "--day", "2026-11-21", "extra"}};
  for (const V& args : bad) {
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_NE(parse_cli_args(args).error, "") << joined;
  }
}

}  // namespace
}  // namespace tlsfence
