#pragma once
// The real MTA-STS policy fetcher (RFC 8461 §3.3) over OpenSSL.
//
// What it trusts: the DnsSource for mta-sts.<domain>'s addresses (a bogus answer is refused),
// the CA store (mta-sts.ca-file or OpenSSL's default paths) for the server's identity.
// What it does: resolve A and AAAA, drop addresses refused by the SSRF guard
// (address_guard.h), connect to the others in order (AAAA first) until one accepts TCP,
// TLS >= 1.2 with SNI and host-name verification of mta-sts.<domain>, GET
// /.well-known/mta-sts.txt over HTTP/1.1, accept only 200 with Content-Type text/plain
// (parameters allowed), never follow a redirect, stop reading past limits::sts_body_max
// (Content-Length or chunked). One deadline (options.timeout) covers the whole fetch; DNS
// lookups are bounded by the resolver's own timeout and count against it.
// On failure: a typed StsFetchResult::Error with a human detail, never an exception.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "policy/dns_source.h"
#include "policy/sts_fetcher.h"
#include "tlsfence/config.h"

namespace tlsfence::https {

struct StsFetcherOptions {
  std::string ca_file;  // PEM bundle; empty: OpenSSL's default verify paths
  std::uint16_t port = 443;
  bool allow_private_addresses = false;
  std::chrono::milliseconds timeout{10'000};
};

StsFetcherOptions sts_fetcher_options(const Config::MtaSts& config);

// Throws std::runtime_error at start-up when the CA file cannot be loaded.
// `dns` must outlive the fetcher. fetch() runs on the awaiting coroutine's executor.
std::unique_ptr<StsFetcher> make_sts_fetcher(DnsSource& dns, StsFetcherOptions options);

}  // namespace tlsfence::https
