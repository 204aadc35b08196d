// Listen specs: the table of accepted and refused forms, and libmilter's syntax.
#include <gtest/gtest.h>

#include "util/listen_spec.h"

namespace tlsfence {
namespace {

TEST(ListenSpec, Accepted) {
  struct Case {
    const char* text;
    ListenSpec::Kind kind;
    const char* path_or_host;
    std::uint16_t port;
    bool ipv6;
    const char* milter;
  };
  const Case cases[] = {
      {"unix:/run/tlsfence/socketmap.sock", ListenSpec::Kind::unix_socket, "/run/tlsfence/socketmap.sock", 0,
       false, "unix:/run/tlsfence/socketmap.sock"},
      {"inet:127.0.0.1:10041", ListenSpec::Kind::inet, "127.0.0.1", 10041, false, "inet:10041@127.0.0.1"},
      {"inet:[::1]:10043", ListenSpec::Kind::inet, "::1", 10043, true, "inet6:10043@[::1]"},
      {"inet:[2001:db8::1]:1", ListenSpec::Kind::inet, "2001:db8::1", 1, true, "inet6:1@[2001:db8::1]"},
      {"inet:localhost:65535", ListenSpec::Kind::inet, "localhost", 65535, false, "inet:65535@localhost"},
      {"inet:0.0.0.0:25", ListenSpec::Kind::inet, "0.0.0.0", 25, false, "inet:25@0.0.0.0"},
  };
  for (const Case& c : cases) {
    auto r = parse_listen_spec(c.text);
    ASSERT_TRUE(r.spec) << c.text << ": " << r.error;
    EXPECT_EQ(r.spec->kind, c.kind) << c.text;
    EXPECT_EQ(c.kind == ListenSpec::Kind::unix_socket ? r.spec->path : r.spec->host, c.path_or_host);
    EXPECT_EQ(r.spec->port, c.port) << c.text;
    EXPECT_EQ(r.spec->ipv6, c.ipv6) << c.text;
    EXPECT_EQ(to_milter_spec(*r.spec), c.milter);
    EXPECT_EQ(to_string(*r.spec), c.text);
  }
}

TEST(ListenSpec, Refused) {
  const char* bad[] = {"",
                       "unix:",
                       "unix:relative/path",
                       "inet:",
                       "inet:127.0.0.1",
                       "inet:127.0.0.1:",
                       "inet:127.0.0.1:0",
                       "inet:127.0.0.1:65536",
                       "inet:127.0.0.1:12a",
                       "inet:127.0.0.1:-1",
                       "inet:::1:25",
                       "inet:[::1]",
                       "inet:[::1]:",
                       "inet:[::1:25",
                       "inet:[127.0.0.1]:25",
                       "inet:[nothex]:25",
                       "inet:bad host:25",
                       "inet::25",
                       "tcp:127.0.0.1:25",
                       "UNIX:/x",
                       "unix:/with\nnewline"};
  for (const char* b : bad) {
    auto r = parse_listen_spec(b);
    EXPECT_FALSE(r.spec) << b;
    EXPECT_FALSE(r.error.empty()) << b;
  }
  EXPECT_FALSE(parse_listen_spec("unix:/" + std::string(200, 'a')).spec);  // longer than sun_path
}

}  // namespace
}  // namespace tlsfence
