#pragma once
// The STARTTLS probe of `tlsfence check`: one TCP connection to one address of an MX host,
// 220 banner, EHLO, STARTTLS (RFC 3207), a TLS handshake with OpenSSL, QUIT — and what the
// server's certificate is worth under PKIX (the configured CA store, the MX host name, as
// MTA-STS needs it) and under DANE (RFC 7672: the host's TLSA records through OpenSSL's
// SSL_dane_* — DANE-EE(3) ignores names and validity dates, DANE-TA(2) checks the chain to
// the trust anchor and the name; PKIX-TA(0)/PKIX-EE(1) are not used for SMTP).
//
// What it trusts: nothing the server sends. Reply lines are bounded (smtp_reply.h), one
// deadline covers the whole probe (a slow drip times out), and every failure is reported in
// the ProbeResult, never thrown. It probes whatever address it is given: no address guard
// (the operator asked to look at that MX).
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "async/asio.h"
#include "tlsfence/policy.h"

namespace tlsfence::check {

struct ProbeOptions {
  std::uint16_t port = 25;
  std::chrono::milliseconds timeout{30'000};  // the whole probe of one address
  std::string ehlo_name = "tlsfence-check.invalid";
  std::string ca_file;  // PEM bundle for the PKIX check; empty: OpenSSL's default store
};

struct CertInfo {
  std::string subject;  // RFC 2253
  std::string issuer;
  std::vector<std::string> dns_names;  // subjectAltName dNSName entries
  std::string not_before;              // "YYYY-MM-DDTHH:MM:SSZ"
  std::string not_after;
  bool expired = false;  // not_after is in the past
  bool not_yet_valid = false;
};

// Where a probe stopped. `done` means it got through the handshake (and sent QUIT).
enum class ProbeStage { connect, banner, ehlo, starttls, handshake, done };
std::string_view to_string(ProbeStage s);

struct ProbeResult {
  std::string host;     // MX host name
  std::string address;  // the address probed
  std::uint16_t port = 25;
  ProbeStage stage = ProbeStage::connect;  // the stage that failed, or done
  std::string error;                       // why it stopped before `done`
  bool timed_out = false;

  std::string banner;  // first line of the 220 greeting (printable)
  int banner_code = 0;
  std::vector<std::string> ehlo_keywords;
  bool starttls_offered = false;

  bool tls = false;  // handshake completed
  std::string tls_version;
  std::string cipher;
  std::vector<CertInfo> chain;  // as sent by the server, leaf first

  // PKIX (MTA-STS, `verify`/`secure`): chain to the CA store, and the leaf's names.
  bool pkix_chain_ok = false;
  std::string pkix_error;     // OpenSSL's verify error when the chain is not trusted
  bool name_matches = false;  // the leaf certificate is valid for `host`

  // DANE (only when TLSA records were given).
  bool dane_checked = false;
  bool dane_ok = false;
  std::string dane_error;  // OpenSSL's verify error when no TLSA record matched
  std::string dane_match;  // e.g. "3 1 1 matched the certificate at depth 0"
};

// TLSA records of the host for the DANE check, as PolicyService used them.
struct DaneInput {
  std::string base_domain;          // TLSA base (the MX host, or its CNAME expansion)
  std::vector<TlsaRecord> records;  // unusable records are skipped
};

class StarttlsProber {
 public:
  // Throws std::runtime_error when the CA file (or OpenSSL's default store) cannot be loaded.
  explicit StarttlsProber(ProbeOptions options);
  ~StarttlsProber();
  StarttlsProber(const StarttlsProber&) = delete;
  StarttlsProber& operator=(const StarttlsProber&) = delete;

  const ProbeOptions& options() const;

  // Probes `address` (IPv4 or IPv6 text) as MX host `host`. `dane` may be null (no DANE check).
  Task<ProbeResult> probe(std::string host, std::string address, const DaneInput* dane);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tlsfence::check
