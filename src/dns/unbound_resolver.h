#pragma once
// DnsSource backed by libunbound: DNSSEC is validated in this process against the configured
// trust anchors; another resolver's AD bit is never trusted.
//
// One ub_ctx per resolver (make one per process), asynchronous without threads:
// ub_resolve_async per query, libunbound's result descriptor (ub_fd) watched by the Asio
// loop, ub_process when it is readable. Each query has its own deadline (dns.timeout): on
// expiry the query is cancelled (ub_cancel) and answered `timed_out`.
//
// Failure semantics: a bad configuration is a start-up exception (DnsConfigError) naming
// the key; a failing lookup is reported in the DnsAnswer (error/rcode/timed_out), never
// thrown. Destroying the resolver while queries are in flight is safe: their coroutines
// resume with an error answer.
//
// Threading: all calls on the io_context's (single) thread.
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "async/asio.h"
#include "policy/dns_source.h"
#include "tlsfence/config.h"

namespace tlsfence::dns {

class DnsConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class UnboundResolver final : public DnsSource {
 public:
  // `state_dir`: a writable directory for the copy of a read-only trust-anchor file
  // (libunbound's RFC 5011 auto-trust-anchor needs to rewrite it), e.g. the directory of
  // [cache] db. Empty: a private directory is made under the system temp directory.
  // Throws DnsConfigError when libunbound refuses the configuration.
  UnboundResolver(asio::io_context& io, const Config::Dns& config, std::filesystem::path state_dir = {});
  ~UnboundResolver() override;
  UnboundResolver(const UnboundResolver&) = delete;
  UnboundResolver& operator=(const UnboundResolver&) = delete;

  Task<DnsAnswer> query(std::string name, std::uint16_t type) override;

  // Queries started and not yet answered (for tests and the benchmark).
  std::size_t in_flight() const;
  // The trust-anchor file libunbound really uses ("" when none).
  const std::string& trust_anchor_in_use() const;

  struct Core;  // libunbound state; defined in the .cc

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace tlsfence::dns
