#pragma once
// HTTPS POST of a report (RFC 8460 §5.4): Content-Type application/tlsrpt+gzip, the gzip body;
// the host resolved through libunbound ([dns] config), TLS >= 1.2 with SNI and Web-PKI
// verification of the host name (CA: [mta-sts] ca-file, else the system store); only a 2xx
// status is success. Blocking (own io_context), with a deadline. Boost.Beast stays in the .cc.
// SSRF guard: the rua host is chosen by whoever publishes the record, so every address it
// resolves to (or the IP literal in the URL) is classified with https/address_guard.h, and
// loopback, private, link-local, shared and reserved addresses are refused unless
// [tlsrpt] allow-private-addresses = yes; multicast and unspecified addresses always are.
#include <chrono>
#include <string>

#include "tlsfence/config.h"

namespace tlsfence::rptd {

struct PostResult {
  bool ok = false;     // a 2xx answer
  std::string detail;  // "HTTP status 200", "HTTP status 503", or what went wrong
};

PostResult https_post_report(const Config& cfg, const std::string& url, const std::string& gzip_body,
                             std::chrono::seconds timeout = std::chrono::seconds(30));

}  // namespace tlsfence::rptd
