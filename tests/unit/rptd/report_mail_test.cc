// How report mail is handed to the MTA: the envelope sender tlsrpt-noreply@SUBMITTER is added
// as `-f` unless the command has its own, the command gets the message on stdin, and the
// Message-ID carries the prefix the log correlators recognise (no report loops).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "rptd/delivery.h"

namespace tlsfence::rptd {
namespace {

namespace fs = std::filesystem;

TEST(ReportMail, EnvelopeSenderAddedUnlessTheCommandHasOne) {
  Config cfg;
  cfg.tlsrpt.submitter = "sender.example";
  EXPECT_EQ(report_sender(cfg), "tlsrpt-noreply@sender.example");
  EXPECT_EQ(envelope_sender_args("/usr/sbin/sendmail -i -t", report_sender(cfg)),
            (std::vector<std::string>{"-f", "tlsrpt-noreply@sender.example"}));
  EXPECT_TRUE(envelope_sender_args("/usr/sbin/sendmail -i -t -f other@x.example", "a@b").empty());
  EXPECT_TRUE(envelope_sender_args("/usr/sbin/sendmail -fother@x.example -t", "a@b").empty());
  cfg.tlsrpt.submitter.clear();
  EXPECT_TRUE(envelope_sender_args("/usr/sbin/sendmail -t", report_sender(cfg)).empty());
}

TEST(ReportMail, CommandGetsItsArgumentsAndTheMessage) {
  const fs::path dir = fs::temp_directory_path() / ("rptd-mail-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path script = dir / "fake-sendmail";
  std::ofstream(script) << "#!/bin/sh\nprintf '%s\\n' \"$@\" > " << (dir / "argv").string() << "\ncat > "
                        << (dir / "stdin").string() << "\n";
  ::chmod(script.c_str(), 0755);
  EXPECT_EQ(pipe_to_command(script.string() + " -i -t", "Subject: x\r\n\r\nbody\r\n", {"-f", "a@b.example"}),
            "");
  std::ifstream argv(dir / "argv"), in(dir / "stdin");
  std::stringstream a, i;
  a << argv.rdbuf();
  i << in.rdbuf();
  EXPECT_EQ(a.str(), "-i\n-t\n-f\na@b.example\n");
  EXPECT_EQ(i.str(), "Subject: x\r\n\r\nbody\r\n");
  EXPECT_NE(pipe_to_command((dir / "missing").string(), "x"), "");
  fs::remove_all(dir);
}

TEST(ReportMail, MessageIdCarriesTheOwnReportPrefix) {
  const tlsrpt::ReportMeta meta{"Org", "mailto:ops@sender.example", "sender.example"};
  const auto built = tlsrpt::build_report(meta, 20780, "a.example", {});
  tlsrpt::MailEnvelope env;
  env.from = "tlsrpt-noreply@sender.example";
  env.to = {"r@a.example"};
  env.date_unix = 1795400000;
  const std::string mail = tlsrpt::report_mail(meta, built, env);
  const auto at = mail.find("\r\nMessage-ID: <");
  ASSERT_NE(at, std::string::npos);
  const std::string id = mail.substr(at + 15, mail.find('>', at) - at - 15);
  EXPECT_TRUE(id.starts_with(tlsrpt::own_message_id_prefix)) << id;
  EXPECT_TRUE(id.ends_with(".1795400000@sender.example")) << id;
}

}  // namespace
}  // namespace tlsfence::rptd
