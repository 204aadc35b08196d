#pragma once
// Fetching an MTA-STS policy file (RFC 8461 §3.3), as an interface: src/https implements it
// over OpenSSL (https::make_sts_fetcher), unit tests inject fakes.
// The fetcher only transports: it returns the body of a 200 text/plain answer or a typed
// error; parsing is parse::parse_sts_policy's job.
#include <string>
#include <string_view>

#include "async/asio.h"

namespace tlsfence {

struct StsFetchResult {
  enum class Error {
    none,             // body holds the policy text
    dns,              // mta-sts.<domain> has no usable A/AAAA (NXDOMAIN, no data, failure, bogus)
    address_refused,  // every address was refused by the SSRF guard
    connect,          // no address accepted a TCP connection
    tls,              // TLS handshake failed (protocol version, alert, reset…)
    webpki,           // certificate not trusted or not valid for mta-sts.<domain>
    timeout,          // the whole-fetch deadline (mta-sts.timeout) expired
    http_status,      // a status other than 200 (and not a redirect)
    redirect,         // 3xx: redirects are never followed (RFC 8461 §3.3)
    content_type,     // Content-Type missing or not text/plain
    too_large,        // body above limits::sts_body_max (64 KiB)
    protocol,         // malformed HTTP, truncated body, other I/O error
  };
  Error error = Error::none;
  std::string detail;   // human text for failures ("" on success)
  int http_status = 0;  // when a response header was read
  std::string body;     // the policy text when error == none
  std::string address;  // the address the answer (or last failure) came from

  bool ok() const { return error == Error::none; }
};

inline std::string_view to_string(StsFetchResult::Error e) {
  using E = StsFetchResult::Error;
  switch (e) {
    case E::none: return "ok";
    case E::dns: return "dns";
    case E::address_refused: return "address-refused";
    case E::connect: return "connect";
    case E::tls: return "tls";
    case E::webpki: return "webpki";
    case E::timeout: return "timeout";
    case E::http_status: return "http-status";
    case E::redirect: return "redirect";
    case E::content_type: return "content-type";
    case E::too_large: return "too-large";
    case E::protocol: return "protocol";
  }
  return "protocol";
}

// RFC 8460 §4.3.2 result type of a failed fetch ("" for success).
inline std::string_view rfc8460_result_type(StsFetchResult::Error e) {
  if (e == StsFetchResult::Error::none) return "";
  if (e == StsFetchResult::Error::webpki) return "sts-webpki-invalid";
  return "sts-policy-fetch-error";
}

class StsFetcher {
 public:
  virtual ~StsFetcher() = default;
  // GET https://mta-sts.<policy_domain>/.well-known/mta-sts.txt. `policy_domain` is a
  // normalised A-label domain. Never throws for network or protocol failures.
  virtual Task<StsFetchResult> fetch(std::string policy_domain) = 0;
};

}  // namespace tlsfence
