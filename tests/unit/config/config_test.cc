// Config: the INI reader, the schema's bounds and the layering of file and command line.
// Every error must name the key (and FILE:LINE when it came from the file).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "config/load.h"
#include "config/schema.h"

namespace tlsfence::config {
namespace {

std::string error_of(std::string_view ini, std::vector<Setting> cli = {}) {
  try {
    build_config(parse_ini(ini, "t.conf"), cli);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

Config from(std::string_view ini, std::vector<Setting> cli = {}) {
  return build_config(parse_ini(ini, "t.conf"), cli);
}

Setting cl(std::string key, std::string value) {
  return Setting{std::move(key), std::move(value), "command line"};
}

TEST(Config, DefaultsMatchInterface) {
  Config c = from("");
  EXPECT_EQ(c.daemon.user, "tlsfence");
  EXPECT_EQ(c.daemon.log, LogTarget::syslog);
  EXPECT_EQ(c.daemon.log_level, LogLevel::info);
  EXPECT_EQ(c.socketmap.listen, std::vector<std::string>{"unix:/run/tlsfence/socketmap.sock"});
  EXPECT_EQ(c.policy.listen, std::vector<std::string>{"unix:/run/tlsfence/policy.sock"});
  EXPECT_EQ(c.milter.listen, std::vector<std::string>{"unix:/run/tlsfence/milter.sock"});
  EXPECT_FALSE(c.socketmap.tlsrpt_attributes);
  EXPECT_FALSE(c.socketmap.enforce_testing);
  EXPECT_EQ(c.reception.wait_seconds, 2u);
  EXPECT_EQ(c.reception.on_dnssec_bogus, BogusAction::continue_);
  EXPECT_EQ(c.reception.forced_tls_transport, "tlsfence-encrypt");
  EXPECT_EQ(c.cache.db, "/var/lib/tlsfence/cache.db");
  EXPECT_EQ(c.dns.trust_anchor_file, "/usr/share/dns/root.key");
  EXPECT_EQ(c.dns.timeout_seconds, 10u);
  EXPECT_EQ(c.mta_sts.https_port, 443);
  EXPECT_EQ(c.mta_sts.timeout_seconds, 10u);
  EXPECT_EQ(c.tlsrpt.socket, "/run/tlsfence/tlsrpt.sock");
  EXPECT_TRUE(c.tlsrpt.deliver);
  EXPECT_EQ(c.tlsrpt.sendmail_command, "/usr/sbin/sendmail -i -t");
}

// The INTERFACE.md sample, verbatim (inline comments included): every key accepted, and the
// result equals the built-in defaults.
constexpr std::string_view kInterfaceSample = R"([daemon]
user = tlsfence                 # drop to this user after opening sockets and files; empty: stay
log = syslog                    # syslog (facility mail) | stderr
log-level = info                # error | warning | info | debug

[socketmap]
listen = unix:/run/tlsfence/socketmap.sock   # repeatable; or inet:HOST:PORT
tlsrpt-attributes = no          # add policy_type=… attributes (Postfix >= 3.10)
enforce-testing = no            # answer MTA-STS testing-mode policies as if enforce

[policy]
listen = unix:/run/tlsfence/policy.sock      # Postfix check_policy_service

[milter]
listen = unix:/run/tlsfence/milter.sock      # Postfix smtpd_milters, Sendmail INPUT_MAIL_FILTER

[reception]                     # what the policy and milter doors do at RCPT time
wait = 2                        # seconds a door may wait for a lookup (prefetch continues after)
on-dnssec-bogus = continue      # continue | defer | reject: recipient domain whose DNSSEC is bogus
forced-tls-sender =             # repeatable: user@domain, @domain or domain
forced-tls-recipient-domain =   # repeatable
forced-tls-transport = tlsfence-encrypt   # Postfix transport that enforces TLS (master.cf)

[cache]
db = /var/lib/tlsfence/cache.db

[dns]
trust-anchor-file = /usr/share/dns/root.key  # auto-trust-anchor file for libunbound
unbound-conf =                  # optional unbound.conf-style file given to libunbound (stub zones, anchors, options)
forwarder =                     # repeatable IP[@PORT]; none: full recursion from the roots
timeout = 10                    # seconds per lookup

[mta-sts]
ca-file =                       # PEM bundle; empty: OpenSSL's default store
https-port = 443
allow-private-addresses = no    # SSRF guard: refuse loopback/private/link-local policy hosts
timeout = 10                    # seconds per fetch

[tlsrpt]
db = /var/lib/tlsfence/tlsrpt.db
socket = /run/tlsfence/tlsrpt.sock           # libtlsrpt-compatible datagram socket; empty: off
postfix-log =                   # follow this Postfix log file; empty: off
sendmail-log =                  # follow this Sendmail log file; empty: off
organization-name =
contact-info =                  # e.g. mailto:tlsrpt@example.org
submitter =                     # the sending domain named in reports
outbox = /var/lib/tlsfence/reports
deliver = yes
sendmail-command = /usr/sbin/sendmail -i -t
)";

TEST(Config, InterfaceSampleAcceptedWithDefaults) {
  auto settings = parse_ini(kInterfaceSample, "sample");
  EXPECT_EQ(settings.size(), 32u);
  Config c = build_config(settings, {});
  Config d;
  EXPECT_EQ(c.daemon.user, d.daemon.user);
  EXPECT_EQ(c.socketmap.listen, d.socketmap.listen);
  EXPECT_EQ(c.reception.forced_tls_sender, d.reception.forced_tls_sender);
  EXPECT_EQ(c.reception.forced_tls_transport, d.reception.forced_tls_transport);
  EXPECT_EQ(c.dns.forwarder, d.dns.forwarder);
  EXPECT_EQ(c.dns.trust_anchor_file, d.dns.trust_anchor_file);
  EXPECT_EQ(c.tlsrpt.sendmail_command, d.tlsrpt.sendmail_command);
  EXPECT_EQ(c.tlsrpt.contact_info, "");
  EXPECT_EQ(c.mta_sts.https_port, 443);
}

TEST(Config, EverySchemaKeyAcceptsItsDefaultText) {
  for (const KeyInfo& k : schema()) {
    Config c;
    EXPECT_EQ(k.set(c, k.default_text), "") << k.name;
  }
  // 32 INTERFACE.md keys + 4 [cache] extras + local.override + forced-tls-sasl-user/-client-network
  // + tlsrpt.allow-private-addresses + fleet.postgresql/host + metrics.listen
  // + tlsrpt.dkim-key/-selector/-domain
  EXPECT_EQ(schema().size(), 47u);
}

TEST(Config, ShippedSampleConfigsLoad) {
  for (const char* path : {TLSFENCE_SAMPLE_CONF, TLSFENCE_DEV_CONF}) {
    CommandLine cmd;
    cmd.config_file = path;
    cmd.config_given = true;
    EXPECT_NO_THROW(load(cmd, nullptr)) << path;
  }
  CommandLine cmd;
  cmd.config_file = TLSFENCE_SAMPLE_CONF;
  cmd.config_given = true;
  Config c = load(cmd, nullptr);
  EXPECT_EQ(c.daemon.user, "tlsfence");
  EXPECT_EQ(c.dns.timeout_seconds, 10u);
  EXPECT_EQ(c.source_file, TLSFENCE_SAMPLE_CONF);
}

TEST(Config, ValuesOfEveryType) {
  Config c = from(
      "[daemon]\nuser =\nlog = stderr\nlog-level = DEBUG\n"
      "[socketmap]\nlisten = inet:127.0.0.1:10041\nlisten = inet:[::1]:10041\ntlsrpt-attributes = true\n"
      "[reception]\nwait = 0\non-dnssec-bogus = reject\nforced-tls-sender = a@b.example\n"
      "forced-tls-sender = @c.example\nforced-tls-sender = d.example\n"
      "[dns]\nforwarder = 9.9.9.9\nforwarder = 2620:fe::fe@53\ntimeout = 300\n"
      "[mta-sts]\nhttps-port = 65535\n[tlsrpt]\norganization-name = \"Example Org # not a comment\"\n");
  EXPECT_EQ(c.daemon.user, "");
  EXPECT_EQ(c.daemon.log, LogTarget::stderr_);
  EXPECT_EQ(c.daemon.log_level, LogLevel::debug);
  EXPECT_EQ(c.socketmap.listen, (std::vector<std::string>{"inet:127.0.0.1:10041", "inet:[::1]:10041"}));
  EXPECT_TRUE(c.socketmap.tlsrpt_attributes);
  EXPECT_EQ(c.reception.wait_seconds, 0u);
  EXPECT_EQ(c.reception.on_dnssec_bogus, BogusAction::reject);
  EXPECT_EQ(c.reception.forced_tls_sender.size(), 3u);
  EXPECT_EQ(c.dns.forwarder, (std::vector<std::string>{"9.9.9.9", "2620:fe::fe@53"}));
  EXPECT_EQ(c.dns.timeout_seconds, 300u);
  EXPECT_EQ(c.mta_sts.https_port, 65535);
  EXPECT_EQ(c.tlsrpt.organization_name, "Example Org # not a comment");
}

TEST(Config, FleetKeys) {
  Config d = from("");
  EXPECT_EQ(d.fleet.postgresql, "");  // this host alone
  EXPECT_EQ(d.fleet.host, "");
  Config c = from(
      "[fleet]\npostgresql = host=db.example dbname=tlsfence user=tlsfence password=s3cret\nhost = mx2\n");
  EXPECT_EQ(c.fleet.postgresql, "host=db.example dbname=tlsfence user=tlsfence password=s3cret");
  EXPECT_EQ(c.fleet.host, "mx2");
  Config u =
      from("[fleet]\npostgresql = postgresql://tlsfence:s3cret@db.example:5433/tlsfence?sslmode=require\n");
  EXPECT_EQ(u.fleet.postgresql, "postgresql://tlsfence:s3cret@db.example:5433/tlsfence?sslmode=require");
  // libpq's parser decides; the message names the key and never repeats a secret.
  const std::string bad = error_of("[fleet]\npostgresql = host=db password='s3cret\n");
  EXPECT_NE(bad.find("t.conf:2: fleet.postgresql: not a libpq connection string"), std::string::npos) << bad;
  EXPECT_EQ(bad.find("s3cret"), std::string::npos) << bad;
  const std::string unknown = error_of("[fleet]\npostgresql = host=db s3cretword=x\n");
  EXPECT_NE(unknown.find("fleet.postgresql: not a libpq connection string"), std::string::npos) << unknown;
  EXPECT_EQ(unknown.find("s3cret"), std::string::npos) << unknown;
  EXPECT_NE(error_of("[fleet]\nhost = two words\n").find("t.conf:2: fleet.host: "), std::string::npos);
}

TEST(Config, EmptyListenTurnsADoorOff) {
  EXPECT_TRUE(from("[milter]\nlisten =\n").milter.listen.empty());
}

TEST(Config, MilterEngine) {
  EXPECT_EQ(from("").milter.engine, MilterEngine::native);
  EXPECT_EQ(from("[milter]\nengine = libmilter\n").milter.engine, MilterEngine::libmilter);
  EXPECT_EQ(error_of("[milter]\nengine = sendmail\n"),
            "t.conf:2: milter.engine: \"sendmail\" is not one of native|libmilter");
}

TEST(Config, UnknownKeyNamesKeyAndLine) {
  EXPECT_EQ(error_of("[dns]\n\ntimeot = 5\n"), "t.conf:3: unknown key \"dns.timeot\"");
}

TEST(Config, UnknownSection) {
  EXPECT_EQ(error_of("[dsn]\n"), "t.conf:1: unknown section [dsn]");
}

TEST(Config, BadNumber) {
  EXPECT_EQ(error_of("[dns]\ntimeout = ten\n"),
            "t.conf:2: dns.timeout: \"ten\" is not a whole number (expected 1..300)");
  EXPECT_NE(error_of("[dns]\ntimeout = -1\n").find("dns.timeout"), std::string::npos);
  EXPECT_NE(error_of("[dns]\ntimeout = 5s\n").find("t.conf:2: dns.timeout"), std::string::npos);
  EXPECT_NE(error_of("[dns]\ntimeout = 99999999999999999999999\n").find("dns.timeout"), std::string::npos);
}

TEST(Config, OutOfRange) {
  EXPECT_EQ(error_of("[dns]\ntimeout = 0\n"),
            "t.conf:2: dns.timeout: \"0\" is out of range (expected 1..300)");
  EXPECT_EQ(error_of("[dns]\ntimeout = 301\n"),
            "t.conf:2: dns.timeout: \"301\" is out of range (expected 1..300)");
  EXPECT_EQ(error_of("[reception]\nwait = 61\n"),
            "t.conf:2: reception.wait: \"61\" is out of range (expected 0..60)");
  EXPECT_EQ(error_of("[mta-sts]\nhttps-port = 0\n"),
            "t.conf:2: mta-sts.https-port: \"0\" is out of range (expected 1..65535)");
  EXPECT_EQ(error_of("[mta-sts]\nhttps-port = 65536\n"),
            "t.conf:2: mta-sts.https-port: \"65536\" is out of range (expected 1..65535)");
  EXPECT_EQ(from("[dns]\ntimeout = 1\n").dns.timeout_seconds, 1u);
  EXPECT_EQ(from("[reception]\nwait = 60\n").reception.wait_seconds, 60u);
}

TEST(Config, BadEnumAndBool) {
  EXPECT_EQ(error_of("[daemon]\nlog = file\n"), "t.conf:2: daemon.log: \"file\" is not one of syslog|stderr");
  EXPECT_EQ(error_of("[reception]\non-dnssec-bogus = bounce\n"),
            "t.conf:2: reception.on-dnssec-bogus: \"bounce\" is not one of continue|defer|reject");
  EXPECT_EQ(error_of("[tlsrpt]\ndeliver = maybe\n"),
            "t.conf:2: tlsrpt.deliver: \"maybe\" is not a boolean (expected yes|no|true|false|1|0)");
  for (const char* v : {"yes", "no", "true", "false", "1", "0", "YES"}) {
    EXPECT_EQ(error_of(std::string("[tlsrpt]\ndeliver = ") + v + "\n"), "(no error)") << v;
  }
}

TEST(Config, BadListenSpec) {
  for (const char* bad : {"unix:relative.sock", "tcp:1.2.3.4:5", "inet:1.2.3.4", "inet:1.2.3.4:0",
                          "inet:::1:25", "inet:[1.2.3.4]:25", "inet:[::1]25", "inet:1.2.3.4:65536", ""}) {
    std::string ini = std::string("[socketmap]\nlisten = unix:/run/x.sock\nlisten = ") + bad + "\n";
    std::string err = error_of(ini);
    if (std::string_view(bad).empty()) {
      EXPECT_EQ(err, "(no error)");  // an empty value is "none", not an error
      continue;
    }
    EXPECT_TRUE(err.starts_with("t.conf:3: socketmap.listen: \"")) << bad << " → " << err;
  }
}

TEST(Config, OtherValueChecks) {
  EXPECT_NE(error_of("[dns]\nforwarder = resolver.example\n").find("t.conf:2: dns.forwarder"),
            std::string::npos);
  EXPECT_NE(error_of("[dns]\nforwarder = 1.1.1.1@0\n").find("dns.forwarder"), std::string::npos);
  EXPECT_NE(error_of("[reception]\nforced-tls-sender = a@b@c\n").find("reception.forced-tls-sender"),
            std::string::npos);
  EXPECT_NE(error_of("[reception]\nforced-tls-transport = smtp:[x]\n").find("reception.forced-tls-transport"),
            std::string::npos);
  EXPECT_NE(error_of("[daemon]\nuser = a:b\n").find("daemon.user"), std::string::npos);
}

TEST(Config, LocalOverridesAndForcedTlsExtras) {
  const std::string ok_text =
      "[local]\noverride = example.org encrypt\noverride = .example.net secure match=.example.net\n"
      "[reception]\nforced-tls-sasl-user = clinic\nforced-tls-client-network = 192.0.2.0/24\n"
      "forced-tls-client-network = 2001:db8::/32\n";
  EXPECT_EQ(error_of(ok_text), "(no error)");
  const std::string bad_level = error_of("[local]\noverride = example.org strict\n");
  EXPECT_NE(bad_level.find("t.conf:2: local.override"), std::string::npos) << bad_level;
  EXPECT_NE(bad_level.find("unknown TLS level \"strict\""), std::string::npos) << bad_level;
  EXPECT_NE(error_of("[local]\noverride = example.org\n").find("local.override"), std::string::npos);
  EXPECT_NE(error_of("[local]\noverride = ex@mple.org encrypt\n").find("is not a domain name"),
            std::string::npos);
  EXPECT_NE(error_of("[reception]\nforced-tls-client-network = clinic.example\n")
                .find("reception.forced-tls-client-network"),
            std::string::npos);
  EXPECT_NE(error_of("[reception]\nforced-tls-sasl-user = a b\n").find("reception.forced-tls-sasl-user"),
            std::string::npos);
}

TEST(Config, SyntaxErrorsNameTheLine) {
  EXPECT_EQ(error_of("user = x\n"), "t.conf:1: key \"user\" outside any [section]");
  EXPECT_EQ(error_of("[daemon]\nuser\n"),
            "t.conf:2: expected \"key = value\" or \"[section]\", got \"user\"");
  EXPECT_EQ(error_of("[daemon\n"), "t.conf:1: expected \"[section]\", got \"[daemon\"");
  EXPECT_EQ(error_of("[daemon]\n= x\n"), "t.conf:2: missing key before '='");
  EXPECT_NE(error_of("[daemon]\nuser = " + std::string(5000, 'a') + "\n").find("t.conf:2: line longer"),
            std::string::npos);
}

TEST(Config, CommentsBlankLinesCrLfAndBom) {
  Config c = from("\xEF\xBB\xBF# comment\r\n; other comment\r\n\r\n[dns]\r\n  timeout = 7  # seven\r\n");
  EXPECT_EQ(c.dns.timeout_seconds, 7u);
}

TEST(Config, RepeatedNonRepeatableKeyIsAnError) {
  EXPECT_EQ(error_of("[dns]\ntimeout = 5\n[dns]\ntimeout = 6\n"),
            "t.conf:4: dns.timeout given again (first at t.conf:2); only repeatable keys may repeat");
}

TEST(Config, RepeatableKeysAccumulateAndReplaceDefault) {
  Config c = from("[policy]\nlisten = unix:/a.sock\n[policy]\nlisten = inet:127.0.0.1:1\n");
  EXPECT_EQ(c.policy.listen, (std::vector<std::string>{"unix:/a.sock", "inet:127.0.0.1:1"}));
}

TEST(Config, CommandLineBeatsFile) {
  Config c = from("[dns]\ntimeout = 5\n[policy]\nlisten = unix:/a.sock\nlisten = unix:/b.sock\n",
                  {cl("dns.timeout", "9"), cl("policy.listen", "inet:127.0.0.1:2")});
  EXPECT_EQ(c.dns.timeout_seconds, 9u);
  EXPECT_EQ(c.policy.listen, std::vector<std::string>{"inet:127.0.0.1:2"});
  // A bad value on the command line is reported as coming from there.
  EXPECT_EQ(error_of("[dns]\ntimeout = 5\n", {cl("dns.timeout", "0")}),
            "command line: dns.timeout: \"0\" is out of range (expected 1..300)");
  EXPECT_EQ(error_of("", {cl("dns.nope", "1")}), "command line: unknown key \"dns.nope\"");
}

TEST(Config, GarbageNeverCrashes) {
  std::mt19937 rng(42);
  for (int round = 0; round < 500; ++round) {
    std::string junk(static_cast<std::size_t>(rng() % 2000), '\0');
    for (char& ch : junk) ch = static_cast<char>(rng() % 256);
    if (round % 3 == 0) junk = "[dns]\n" + junk;
    try {
      build_config(parse_ini(junk, "junk"), {});
    } catch (const ConfigError& e) {
      EXPECT_TRUE(std::string_view(e.what()).starts_with("junk:")) << e.what();
      // Messages are printable: garbage is escaped.
      for (unsigned char ch : std::string_view(e.what())) EXPECT_GE(ch, ' ');
    }
  }
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tlsfence-config-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::string dir_;
};

using ConfigFile = TempDir;

TEST_F(ConfigFile, MissingGivenFileIsAnError) {
  CommandLine cmd;
  cmd.config_file = dir_ + "/nope.conf";
  cmd.config_given = true;
  try {
    load(cmd, nullptr);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "--config: cannot read " + dir_ + "/nope.conf: No such file or directory");
  }
}

TEST_F(ConfigFile, MissingDefaultFileGivesDefaultsAndAWarning) {
  CommandLine cmd;
  cmd.config_file = dir_ + "/nope.conf";
  cmd.config_given = false;
  std::vector<std::string> warnings;
  Config c = load(cmd, &warnings);
  EXPECT_EQ(c.dns.timeout_seconds, 10u);
  EXPECT_EQ(c.source_file, "");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("built-in defaults"), std::string::npos);
}

TEST_F(ConfigFile, DirectoryAndUnreadable) {
  CommandLine cmd;
  cmd.config_file = dir_;
  cmd.config_given = true;
  EXPECT_THROW(load(cmd, nullptr), ConfigError);
}

TEST_F(ConfigFile, FileErrorsCarryPathAndLine) {
  CommandLine cmd;
  cmd.config_file = write("t.conf", "[dns]\ntimeout = 0\n");
  cmd.config_given = true;
  try {
    load(cmd, nullptr);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              cmd.config_file + ":2: dns.timeout: \"0\" is out of range (expected 1..300)");
  }
}

TEST_F(ConfigFile, RandomBinaryFile) {
  std::mt19937 rng(7);
  std::string junk(100000, '\0');
  for (char& ch : junk) ch = static_cast<char>(rng() % 256);
  CommandLine cmd;
  cmd.config_file = write("junk.conf", junk);
  cmd.config_given = true;
  try {
    load(cmd, nullptr);
    FAIL() << "random bytes accepted";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(std::string_view(e.what()).starts_with(cmd.config_file + ":")) << e.what();
  }
  cmd.config_file = write("huge.conf", std::string(3 * 1024 * 1024, '#'));
  EXPECT_THROW(load(cmd, nullptr), ConfigError);
}

// The command line through Boost.Program_options.
CommandLine parse(std::vector<const char*> args, ProgramKind kind = ProgramKind::daemon) {
  args.insert(args.begin(), "prog");
  return parse_command_line(static_cast<int>(args.size()), args.data(), kind);
}

std::string cmd_error(std::vector<const char*> args, ProgramKind kind = ProgramKind::daemon) {
  try {
    parse(std::move(args), kind);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(CommandLine, KeysConfigHelpVersion) {
  CommandLine c = parse({"--config", "/x.conf", "--dns.timeout=5", "--policy.listen", "unix:/p.sock",
                         "--policy.listen=inet:127.0.0.1:3", "--daemon.user="});
  EXPECT_EQ(c.config_file, "/x.conf");
  EXPECT_TRUE(c.config_given);
  ASSERT_EQ(c.overrides.size(), 4u);
  EXPECT_EQ(c.overrides[0].key, "dns.timeout");
  EXPECT_EQ(c.overrides[0].value, "5");
  Config cfg = build_config({}, c.overrides);
  EXPECT_EQ(cfg.policy.listen, (std::vector<std::string>{"unix:/p.sock", "inet:127.0.0.1:3"}));
  EXPECT_EQ(cfg.daemon.user, "");
  EXPECT_TRUE(parse({"--help"}).help);
  EXPECT_TRUE(parse({"-h"}).help);
  EXPECT_TRUE(parse({"--version"}).version);
  EXPECT_FALSE(parse({}).config_given);
  EXPECT_EQ(parse({}).config_file, "/etc/tlsfence/tlsfence.conf");
}

TEST(CommandLine, Errors) {
  EXPECT_NE(cmd_error({"--dns.timeot=5"}).find("--dns.timeot"), std::string::npos);
  EXPECT_NE(cmd_error({"--dns.time=5"}).find("--dns.time"), std::string::npos);  // no abbreviations
  EXPECT_EQ(cmd_error({"--dns.timeout"}), "command line: --dns.timeout needs a value");
  EXPECT_EQ(cmd_error({"query"}), "command line: unexpected argument \"query\" (see --help)");
  EXPECT_EQ(cmd_error({"--config"}), "command line: --config needs a value");
}

TEST(CommandLine, CliKeepsItsArgumentsInOrder) {
  CommandLine c =
      parse({"report", "--dns.timeout=3", "build", "--day", "2026-01-01", "--config=/c"}, ProgramKind::cli);
  EXPECT_EQ(c.args, (std::vector<std::string>{"report", "build", "--day", "2026-01-01"}));
  EXPECT_EQ(c.config_file, "/c");
  ASSERT_EQ(c.overrides.size(), 1u);
}

TEST(CommandLine, HelpListsEveryKey) {
  for (ProgramKind kind : {ProgramKind::daemon, ProgramKind::rptd, ProgramKind::cli}) {
    std::string help = help_text(kind);
    for (const KeyInfo& k : schema())
      EXPECT_NE(help.find("--" + std::string(k.name)), std::string::npos) << k.name;
    EXPECT_NE(help.find("--config"), std::string::npos);
  }
  EXPECT_NE(help_text(ProgramKind::cli).find("report build --day"), std::string::npos);
  EXPECT_EQ(version_text(ProgramKind::rptd).rfind("tlsfence-rptd ", 0), 0u);
}

}  // namespace
}  // namespace tlsfence::config
