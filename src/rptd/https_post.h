#pragma once
// HTTPS POST of a report (RFC 8460 §5.4): Content-Type application/tlsrpt+gzip, the gzip body;
// the host resolved through libunbound ([dns] config), TLS >= 1.2 with SNI and Web-PKI
// verification of the host name (CA: [mta-sts] ca-file, else the system store); only a 2xx
// status is success. Blocking (own io_context), with a deadline. Boost.Beast stays in the .cc.
#include <chrono>
#include <string>

#include "tlsfence/config.h"

namespace tlsfence::rptd {

// Returns "" on a 2xx answer, else what went wrong.
std::string https_post_report(const Config& cfg, const std::string& url, const std::string& gzip_body,
                              std::chrono::seconds timeout = std::chrono::seconds(30));

}  // namespace tlsfence::rptd
