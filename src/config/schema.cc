// The config schema (see schema.h): one table, one validating setter per key. The setters
// are the only code that turns config text into typed Config fields.
#include "config/schema.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <vector>

#include "fleet/conninfo.h"
#include "util/listen_spec.h"

namespace tlsfence::config {
namespace {

using Setter = std::function<std::string(Config&, std::string_view)>;

bool has_control(std::string_view v) {
  return std::any_of(v.begin(), v.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < ' ' || u == 0x7f;
  });
}

std::string quoted(std::string_view v) {
  return "\"" + printable(v) + "\"";
}

std::string lower(std::string_view v) {
  std::string s(v);
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::optional<std::uint64_t> parse_u64(std::string_view v) {
  std::uint64_t n = 0;
  if (v.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return n;
}

std::optional<bool> parse_bool(std::string_view v) {
  std::string s = lower(v);
  if (s == "yes" || s == "true" || s == "1") return true;
  if (s == "no" || s == "false" || s == "0") return false;
  return std::nullopt;
}

// Helpers building setters from a field accessor.
template <typename T>
Setter uint_key(std::uint64_t lo, std::uint64_t hi, T& (*field)(Config&)) {
  return [lo, hi, field](Config& c, std::string_view v) -> std::string {
    auto n = parse_u64(v);
    std::string range = std::to_string(lo) + ".." + std::to_string(hi);
    if (!n) return quoted(v) + " is not a whole number (expected " + range + ")";
    if (*n < lo || *n > hi) return quoted(v) + " is out of range (expected " + range + ")";
    field(c) = static_cast<T>(*n);
    return {};
  };
}

Setter bool_key(bool& (*field)(Config&)) {
  return [field](Config& c, std::string_view v) -> std::string {
    auto b = parse_bool(v);
    if (!b) return quoted(v) + " is not a boolean (expected yes|no|true|false|1|0)";
    field(c) = *b;
    return {};
  };
}

template <typename E, std::size_t N>
Setter enum_key(std::array<std::pair<std::string_view, E>, N> names, E& (*field)(Config&)) {
  return [names, field](Config& c, std::string_view v) -> std::string {
    std::string s = lower(v);
    std::string expected;
    for (const auto& [name, value] : names) {
      if (s == name) {
        field(c) = value;
        return {};
      }
      expected += (expected.empty() ? "" : "|") + std::string(name);
    }
    return quoted(v) + " is not one of " + expected;
  };
}

// Free text without control characters (paths, names, commands).
Setter text_key(std::string& (*field)(Config&)) {
  return [field](Config& c, std::string_view v) -> std::string {
    if (has_control(v)) return quoted(v) + " contains a control character";
    field(c) = std::string(v);
    return {};
  };
}

// A repeatable key: `check` validates one item; an empty value leaves the list as it is
// (the loader cleared it before the first value of the layer that wins).
Setter list_key(std::vector<std::string>& (*field)(Config&), std::string (*check)(std::string_view)) {
  return [field, check](Config& c, std::string_view v) -> std::string {
    if (v.empty()) return {};
    if (has_control(v)) return quoted(v) + " contains a control character";
    std::string why = check(v);
    if (!why.empty()) return quoted(v) + ": " + why;
    field(c).emplace_back(v);
    return {};
  };
}

std::string check_listen(std::string_view v) {
  return parse_listen_spec(v).error;
}

std::string check_forwarder(std::string_view v) {
  std::string host(v);
  std::string_view port;
  if (auto at = v.find('@'); at != std::string_view::npos) {
    host = std::string(v.substr(0, at));
    port = v.substr(at + 1);
    auto n = parse_u64(port);
    if (!n || *n < 1 || *n > 65535) return "port must be 1..65535";
  }
  in_addr a4{};
  in6_addr a6{};
  if (inet_pton(AF_INET, host.c_str(), &a4) != 1 && inet_pton(AF_INET6, host.c_str(), &a6) != 1) {
    return "expected IP[@PORT] (an IPv4 or IPv6 address)";
  }
  return {};
}

bool domainish(std::string_view d) {
  if (d.empty() || d.size() > 253) return false;
  return std::none_of(d.begin(), d.end(),
                      [](char c) { return c == ' ' || c == '\t' || c == '@' || c == ','; });
}

std::string check_sender(std::string_view v) {
  auto at = v.find('@');
  if (at == std::string_view::npos) return domainish(v) ? "" : "expected user@domain, @domain or domain";
  std::string_view local = v.substr(0, at);
  std::string_view domain = v.substr(at + 1);
  if (local.find_first_of(" \t") != std::string_view::npos || !domainish(domain)) {
    return "expected user@domain, @domain or domain";
  }
  return {};
}

std::string check_domain(std::string_view v) {
  return domainish(v) ? "" : "expected a domain name";
}

std::string check_transport(Config& c, std::string_view v) {
  if (v.empty()) return "\"\" is empty (expected a master.cf transport name)";
  bool ok = std::all_of(v.begin(), v.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
           ch == '_' || ch == '.';
  });
  if (!ok) return quoted(v) + " is not a transport name (letters, digits, '-', '_', '.')";
  c.reception.forced_tls_transport = std::string(v);
  return {};
}

std::string check_user(Config& c, std::string_view v) {
  bool ok = std::all_of(v.begin(), v.end(), [](char ch) {
    auto u = static_cast<unsigned char>(ch);
    return u > ' ' && u < 0x7f && ch != ':' && ch != '/';
  });
  if (!ok || v.size() > 64) return quoted(v) + " is not a user name";
  c.daemon.user = std::string(v);
  return {};
}

// A SASL user name as Postfix reports it (sasl_username / {auth_authen}).
std::string check_sasl_user(std::string_view v) {
  bool ok = !v.empty() && v.size() <= 256 && std::all_of(v.begin(), v.end(), [](char ch) {
    auto u = static_cast<unsigned char>(ch);
    return u > ' ' && u < 0x7f;
  });
  return ok ? "" : quoted(v) + " is not a SASL user name";
}

// CIDR network (v4 or v6) or a single address; the forced-TLS matcher checks it fully.
std::string check_network(std::string_view v) {
  bool ok = !v.empty() && v.size() <= 64 && std::all_of(v.begin(), v.end(), [](char ch) {
    return std::isxdigit(static_cast<unsigned char>(ch)) || ch == '.' || ch == ':' || ch == '/';
  });
  return ok ? "" : quoted(v) + " is not an address or CIDR network";
}

// [local] override = DOMAIN LEVEL [ARGS…] (fully checked by policy::Overrides at start-up).
std::string check_override(std::string_view v) {
  static constexpr std::array<std::string_view, 8> levels = {"none",      "may",         "encrypt", "dane",
                                                             "dane-only", "fingerprint", "verify",  "secure"};
  const auto sp = v.find_first_of(" \t");
  if (sp == std::string_view::npos) return quoted(v) + " is not DOMAIN LEVEL [ARGS...]";
  std::string_view domain = v.substr(0, sp);
  if (!domain.empty() && domain.front() == '.') domain.remove_prefix(1);
  if (!domainish(domain)) return quoted(v) + ": " + quoted(v.substr(0, sp)) + " is not a domain name";
  std::string_view rest = v.substr(sp);
  rest.remove_prefix(std::min(rest.find_first_not_of(" \t"), rest.size()));
  const std::string_view level = rest.substr(0, rest.find_first_of(" \t"));
  if (std::find(levels.begin(), levels.end(), level) == levels.end()) {
    return quoted(v) + ": unknown TLS level " + quoted(level) +
           " (none, may, encrypt, dane, dane-only, fingerprint, verify, secure)";
  }
  return {};
}

// [fleet] postgresql: what libpq's own parser accepts (its reason never repeats the text: it may
// hold a password).
std::string check_conninfo(Config& c, std::string_view v) {
  if (has_control(v)) return "the connection string contains a control character";
  if (!v.empty()) {
    std::string why = fleet::conninfo_error(v);
    if (!why.empty()) return "not a libpq connection string: " + why;
  }
  c.fleet.postgresql = std::string(v);
  return {};
}

// [fleet] host: a host name as it goes into the shared tables (printable, no spaces).
std::string check_fleet_host(Config& c, std::string_view v) {
  bool ok = v.size() <= 253 && std::all_of(v.begin(), v.end(), [](char ch) {
              auto u = static_cast<unsigned char>(ch);
              return u > ' ' && u < 0x7f;
            });
  if (!ok) return quoted(v) + " is not a host name (printable, no spaces, at most 253 bytes)";
  c.fleet.host = std::string(v);
  return {};
}

constexpr std::array<std::string_view, 12> kSections = {"daemon",    "socketmap", "policy", "milter",
                                                        "reception", "local",     "cache",  "dns",
                                                        "mta-sts",   "tlsrpt",    "fleet",  "metrics"};

std::vector<KeyInfo> build_schema() {
  using LT = LogTarget;
  using LL = LogLevel;
  using BA = BogusAction;
  std::vector<KeyInfo> k;
  auto add = [&k](std::string_view name, std::string_view def, std::string_view help, Setter set) {
    k.push_back(KeyInfo{name, def, help, false, std::move(set), {}});
  };
  auto add_list = [&k](std::string_view name, std::string_view def, std::string_view help,
                       std::vector<std::string>& (*field)(Config&), std::string (*check)(std::string_view)) {
    k.push_back(
        KeyInfo{name, def, help, true, list_key(field, check), [field](Config& c) { field(c).clear(); }});
  };

  // [daemon]
  add("daemon.user", "tlsfence", "drop to this user after opening sockets and files; empty: stay",
      check_user);
  add("daemon.log", "syslog", "syslog (facility mail) | stderr",
      enum_key<LT, 2>({{{"syslog", LT::syslog}, {"stderr", LT::stderr_}}},
                      [](Config& c) -> LT& { return c.daemon.log; }));
  add("daemon.log-level", "info", "error | warning | info | debug",
      enum_key<LL, 4>(
          {{{"error", LL::error}, {"warning", LL::warning}, {"info", LL::info}, {"debug", LL::debug}}},
          [](Config& c) -> LL& { return c.daemon.log_level; }));
  // [socketmap]
  add_list(
      "socketmap.listen", "unix:/run/tlsfence/socketmap.sock",
      "repeatable: unix:/PATH or inet:HOST:PORT ([IPv6] in brackets); empty: off",
      [](Config& c) -> std::vector<std::string>& { return c.socketmap.listen; }, check_listen);
  add("socketmap.tlsrpt-attributes", "no", "add policy_type=... attributes (Postfix >= 3.10): yes | no",
      bool_key([](Config& c) -> bool& { return c.socketmap.tlsrpt_attributes; }));
  add("socketmap.enforce-testing", "no", "answer MTA-STS testing-mode policies as if enforce: yes | no",
      bool_key([](Config& c) -> bool& { return c.socketmap.enforce_testing; }));
  // [policy], [milter]
  add_list(
      "policy.listen", "unix:/run/tlsfence/policy.sock",
      "repeatable: Postfix check_policy_service listener; empty: off",
      [](Config& c) -> std::vector<std::string>& { return c.policy.listen; }, check_listen);
  add_list(
      "milter.listen", "unix:/run/tlsfence/milter.sock", "repeatable: milter listener; empty: off",
      [](Config& c) -> std::vector<std::string>& { return c.milter.listen; }, check_listen);
  add("milter.engine", "native",
      "native (on tlsfenced's event loop, every listen address) | libmilter (libmilter's threads, "
      "the first listen address only)",
      enum_key<MilterEngine, 2>({{{"native", MilterEngine::native}, {"libmilter", MilterEngine::libmilter}}},
                                [](Config& c) -> MilterEngine& { return c.milter.engine; }));
  // [reception]
  add("reception.wait", "2", "seconds a door may wait for a lookup (0..60)",
      uint_key<std::uint32_t>(0, 60, [](Config& c) -> std::uint32_t& { return c.reception.wait_seconds; }));
  add("reception.on-dnssec-bogus", "continue", "continue | defer | reject",
      enum_key<BA, 3>({{{"continue", BA::continue_}, {"defer", BA::defer}, {"reject", BA::reject}}},
                      [](Config& c) -> BA& { return c.reception.on_dnssec_bogus; }));
  add_list(
      "reception.forced-tls-sender", "", "repeatable: user@domain, @domain or domain",
      [](Config& c) -> std::vector<std::string>& { return c.reception.forced_tls_sender; }, check_sender);
  add_list(
      "reception.forced-tls-recipient-domain", "", "repeatable: a recipient domain",
      [](Config& c) -> std::vector<std::string>& { return c.reception.forced_tls_recipient_domain; },
      check_domain);
  add_list(
      "reception.forced-tls-sasl-user", "", "repeatable: a SASL user name whose mail must go encrypted",
      [](Config& c) -> std::vector<std::string>& { return c.reception.forced_tls_sasl_user; },
      check_sasl_user);
  add_list(
      "reception.forced-tls-client-network", "", "repeatable: client address or CIDR network (IPv4 or IPv6)",
      [](Config& c) -> std::vector<std::string>& { return c.reception.forced_tls_client_network; },
      check_network);
  // [local]
  add_list(
      "local.override", "",
      "repeatable: DOMAIN LEVEL [ARGS...]; .DOMAIN for subdomains; wins over DANE/MTA-STS",
      [](Config& c) -> std::vector<std::string>& { return c.local.override_rules; }, check_override);
  add("reception.forced-tls-transport", "tlsfence-encrypt", "Postfix transport that enforces TLS (master.cf)",
      check_transport);
  // [cache]
  add("cache.db", "/var/lib/tlsfence/cache.db", "SQLite cache file",
      text_key([](Config& c) -> std::string& { return c.cache.db; }));
  add("cache.max-entries", "1000000", "domains kept in memory (1..1000000000)",
      uint_key<std::uint64_t>(1, 1'000'000'000,
                              [](Config& c) -> std::uint64_t& { return c.cache.max_entries; }));
  add("cache.negative-ttl-max", "3600", "cap in seconds for caching \"no policy\" (0..86400)",
      uint_key<std::uint32_t>(0, 86400,
                              [](Config& c) -> std::uint32_t& { return c.cache.negative_ttl_max; }));
  add("cache.temp-ttl", "30", "seconds a TEMP answer is reused (0..3600)",
      uint_key<std::uint32_t>(0, 3600, [](Config& c) -> std::uint32_t& { return c.cache.temp_ttl; }));
  add("cache.refresh", "yes", "refresh used entries before they expire: yes | no",
      bool_key([](Config& c) -> bool& { return c.cache.refresh; }));
  // [dns]
  add("dns.trust-anchor-file", "/usr/share/dns/root.key", "auto-trust-anchor file for libunbound (writable)",
      text_key([](Config& c) -> std::string& { return c.dns.trust_anchor_file; }));
  add("dns.unbound-conf", "", "optional unbound.conf-style file given to libunbound",
      text_key([](Config& c) -> std::string& { return c.dns.unbound_conf; }));
  add_list(
      "dns.forwarder", "", "repeatable: IP[@PORT]; none: full recursion from the roots",
      [](Config& c) -> std::vector<std::string>& { return c.dns.forwarder; }, check_forwarder);
  add("dns.timeout", "10", "seconds per lookup (1..300)",
      uint_key<std::uint32_t>(1, 300, [](Config& c) -> std::uint32_t& { return c.dns.timeout_seconds; }));
  // [mta-sts]
  add("mta-sts.ca-file", "", "PEM bundle; empty: OpenSSL's default store",
      text_key([](Config& c) -> std::string& { return c.mta_sts.ca_file; }));
  add("mta-sts.https-port", "443", "port of the MTA-STS policy host (1..65535)",
      uint_key<std::uint16_t>(1, 65535, [](Config& c) -> std::uint16_t& { return c.mta_sts.https_port; }));
  add("mta-sts.allow-private-addresses", "no", "allow loopback/private/link-local policy hosts: yes | no",
      bool_key([](Config& c) -> bool& { return c.mta_sts.allow_private_addresses; }));
  add("mta-sts.timeout", "10", "seconds per fetch (1..300)",
      uint_key<std::uint32_t>(1, 300, [](Config& c) -> std::uint32_t& { return c.mta_sts.timeout_seconds; }));
  // [tlsrpt]
  add("tlsrpt.db", "/var/lib/tlsfence/tlsrpt.db", "SQLite outcome store",
      text_key([](Config& c) -> std::string& { return c.tlsrpt.db; }));
  add("tlsrpt.socket", "/run/tlsfence/tlsrpt.sock", "libtlsrpt-compatible datagram socket; empty: off",
      text_key([](Config& c) -> std::string& { return c.tlsrpt.socket; }));
  add("tlsrpt.postfix-log", "", "follow this Postfix log file; empty: off",
      text_key([](Config& c) -> std::string& { return c.tlsrpt.postfix_log; }));
  add("tlsrpt.sendmail-log", "", "follow this Sendmail log file; empty: off",
      text_key([](Config& c) -> std::string& { return c.tlsrpt.sendmail_log; }));
  add("tlsrpt.organization-name", "", "organization named in reports",
      text_key([](Config& c) -> std::string& { return c.tlsrpt.organization_name; }));
  add("tlsrpt.contact-info", "", "e.g. mailto:tlsrpt@example.org",
      text_key([](Config& c) -> std::string& { return c.tlsrpt.contact_info; }));
  add("tlsrpt.submitter", "", "the sending domain named in reports",
      text_key([](Config& c) -> std::string& { return c.tlsrpt.submitter; }));
  add("tlsrpt.outbox", "/var/lib/tlsfence/reports", "directory for built reports",
      text_key([](Config& c) -> std::string& { return c.tlsrpt.outbox; }));
  add("tlsrpt.deliver", "yes", "deliver reports to rua addresses: yes | no",
      bool_key([](Config& c) -> bool& { return c.tlsrpt.deliver; }));
  add("tlsrpt.sendmail-command", "/usr/sbin/sendmail -i -t", "command that mails a report",
      text_key([](Config& c) -> std::string& { return c.tlsrpt.sendmail_command; }));
  add("tlsrpt.allow-private-addresses", "no", "allow loopback/private/link-local https: rua hosts: yes | no",
      bool_key([](Config& c) -> bool& { return c.tlsrpt.allow_private_addresses; }));
  add("tlsrpt.dkim-key", "",
      "PEM private key (RSA or Ed25519) that DKIM-signs report mail (RFC 8460; DKIM service type tlsrpt: "
      "publish the key with s=tlsrpt); tlsfence-rptd reads it at start-up, before dropping privileges, "
      "and exits with a config error if it cannot be read or used; a reload keeps the key read at start "
      "(restart to change it); empty (default): report mail is unsigned, for the MTA's own signer",
      text_key([](Config& c) -> std::string& { return c.tlsrpt.dkim_key; }));
  add("tlsrpt.dkim-selector", "",
      "DKIM selector (s=) of dkim-key; required when dkim-key is set; default: empty",
      text_key([](Config& c) -> std::string& { return c.tlsrpt.dkim_selector; }));
  add("tlsrpt.dkim-domain", "", "DKIM signing domain (d=); empty (default): the submitter",
      text_key([](Config& c) -> std::string& { return c.tlsrpt.dkim_domain; }));
  // [fleet]
  add("fleet.postgresql", "",
      "libpq connection string (key=value pairs or a postgresql:// URI) of the fleet's shared "
      "PostgreSQL; empty: this host alone (memory + SQLite)",
      check_conninfo);
  add("fleet.host", "", "this host's name in the fleet's shared tables; empty: the system host name",
      check_fleet_host);
  // [metrics]
  add("metrics.listen", "",
      "unix:/PATH or inet:HOST:PORT ([IPv6] in brackets) serving Prometheus /metrics and /healthz over "
      "HTTP, each program its own address; empty (the default): off; read at start (a reload, SIGHUP, "
      "does not apply a change: restart)",
      [](Config& c, std::string_view v) -> std::string {
        if (v.empty()) {
          c.metrics.listen.clear();
          return {};
        }
        if (has_control(v)) return quoted(v) + " contains a control character";
        if (std::string why = check_listen(v); !why.empty()) return quoted(v) + ": " + why;
        c.metrics.listen = std::string(v);
        return {};
      });
  return k;
}

// The keys a running tlsfenced applies at a reload (the "policy" service's reload hook in
// app/tlsfenced.cc and log::init in util/daemon.cc); every other key needs a restart.
bool applied_at_reload(std::string_view name) {
  static constexpr std::array<std::string_view, 5> keys = {"daemon.log", "daemon.log-level",
                                                           "socketmap.tlsrpt-attributes",
                                                           "socketmap.enforce-testing", "local.override"};
  if (name.starts_with("reception.")) return true;
  return std::find(keys.begin(), keys.end(), name) != keys.end();
}

std::vector<KeyInfo> build_schema_with_reload() {
  std::vector<KeyInfo> keys = build_schema();
  for (KeyInfo& k : keys) {
    if (applied_at_reload(k.name)) k.reload = Reload::at_once;
  }
  return keys;
}

}  // namespace

std::span<const KeyInfo> schema() {
  static const std::vector<KeyInfo> keys = build_schema_with_reload();
  return keys;
}

const KeyInfo* find_key(std::string_view name) {
  for (const KeyInfo& k : schema()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::span<const std::string_view> sections() {
  return kSections;
}

bool is_section(std::string_view name) {
  auto s = sections();
  return std::find(s.begin(), s.end(), name) != s.end();
}

std::string printable(std::string_view text, std::size_t max) {
  std::string out;
  for (unsigned char c : text) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    if (c < ' ' || c >= 0x7f || c == '\\' || c == '"') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace tlsfence::config
