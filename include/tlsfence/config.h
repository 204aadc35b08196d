#pragma once
// The immutable configuration, built once by src/config from the INI file and the command
// line (see INTERFACE.md for every key). Only src/app reads options; everything else is
// handed the parts of Config it needs.
#include <cstdint>
#include <string>
#include <vector>

namespace tlsfence {

enum class LogTarget { syslog, stderr_ };
enum class LogLevel { error, warning, info, debug };
enum class BogusAction { continue_, defer, reject };
// [milter] engine: the door on the daemon's own loop, or on libmilter's threads.
enum class MilterEngine { native, libmilter };

struct Config {
  std::string source_file;  // the file it was read from ("" when none)

  struct Daemon {
    std::string user = "tlsfence";
    LogTarget log = LogTarget::syslog;
    LogLevel log_level = LogLevel::info;
  } daemon;

  struct Socketmap {
    std::vector<std::string> listen{"unix:/run/tlsfence/socketmap.sock"};
    bool tlsrpt_attributes = false;
    bool enforce_testing = false;
  } socketmap;

  struct Policy {
    std::vector<std::string> listen{"unix:/run/tlsfence/policy.sock"};
  } policy;

  struct Milter {
    std::vector<std::string> listen{"unix:/run/tlsfence/milter.sock"};
    MilterEngine engine = MilterEngine::native;
  } milter;

  struct Reception {
    std::uint32_t wait_seconds = 2;
    BogusAction on_dnssec_bogus = BogusAction::continue_;
    std::vector<std::string> forced_tls_sender;
    std::vector<std::string> forced_tls_recipient_domain;
    std::vector<std::string> forced_tls_sasl_user;       // forced-tls-sasl-user (repeatable)
    std::vector<std::string> forced_tls_client_network;  // forced-tls-client-network (repeatable): CIDR
    std::string forced_tls_transport = "tlsfence-encrypt";
  } reception;

  // [local] — the operator's own rules, checked before DANE and MTA-STS.
  struct Local {
    // override = DOMAIN LEVEL [ARGS…]  (repeatable). DOMAIN exact, or ".example.org" for
    // every subdomain; LEVEL a Postfix TLS security level (none, may, encrypt, dane,
    // dane-only, fingerprint, verify, secure) followed by its attributes, e.g.
    // "example.org secure match=.example.org:example.org".
    std::vector<std::string> override_rules;
  } local;

  struct Cache {
    std::string db = "/var/lib/tlsfence/cache.db";
    std::uint64_t max_entries = 1'000'000;  // [cache] max-entries: memory bound (LRU)
    std::uint32_t negative_ttl_max = 3600;  // [cache] negative-ttl-max: cap for "no policy"
    std::uint32_t temp_ttl = 30;            // [cache] temp-ttl: how long a TEMP is reused
    bool refresh = true;                    // [cache] refresh: refresh used entries before expiry
  } cache;

  struct Dns {
    std::string trust_anchor_file = "/usr/share/dns/root.key";
    std::string unbound_conf;
    std::vector<std::string> forwarder;
    std::uint32_t timeout_seconds = 10;
  } dns;

  struct MtaSts {
    std::string ca_file;
    std::uint16_t https_port = 443;
    bool allow_private_addresses = false;
    std::uint32_t timeout_seconds = 10;
  } mta_sts;

  struct Tlsrpt {
    std::string db = "/var/lib/tlsfence/tlsrpt.db";
    std::string socket = "/run/tlsfence/tlsrpt.sock";
    std::string postfix_log;
    std::string sendmail_log;
    std::string organization_name;
    std::string contact_info;
    std::string submitter;
    std::string outbox = "/var/lib/tlsfence/reports";
    bool deliver = true;
    std::string sendmail_command = "/usr/sbin/sendmail -i -t";
    bool allow_private_addresses = false;  // SSRF guard of https: rua (beyond INTERFACE.md)
    std::string dkim_key;                  // PEM private key signing report mail; empty: unsigned
    std::string dkim_selector;             // s= of that key
    std::string dkim_domain;               // d=; empty: submitter
  } tlsrpt;

  // [metrics] — Prometheus /metrics and /healthz over HTTP, one listener per program.
  struct Metrics {
    std::string listen;  // unix:/PATH or inet:HOST:PORT; empty: off
  } metrics;

  // [fleet] — several hosts sharing one PostgreSQL (src/fleet). Empty postgresql: this host alone.
  struct Fleet {
    std::string postgresql;  // libpq connection string (checked by PQconninfoParse)
    std::string host;        // this host's name in the shared tables; empty: gethostname()
  } fleet;
};

}  // namespace tlsfence
