#pragma once
// Running `tlsfence check DOMAIN`: the policy decision through the same PolicyService code the
// daemon uses (without any cache), then the DNS records behind it, the MTA-STS and TLS-RPT
// records, and a STARTTLS probe of every MX address, judged by verdict.h.
//
// The DNS answers and the MTA-STS fetch shown are the ones the decision was made from:
// RecordingDns and RecordingFetcher sit between PolicyService and the real resolver/fetcher
// and remember every answer; the check only asks again for what the decision did not need
// (e.g. TLSA of an insecure MX, the TLS-RPT record).
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "async/asio.h"
#include "check/report.h"
#include "check/starttls_probe.h"
#include "policy/dns_source.h"
#include "policy/lookup.h"
#include "policy/sts_fetcher.h"

namespace tlsfence::check {

// At most this many MX hosts are looked up and probed; and this many addresses per host.
inline constexpr std::size_t check_hosts_max = 16;
inline constexpr std::size_t check_addresses_max = 8;

class RecordingDns final : public DnsSource {
 public:
  explicit RecordingDns(DnsSource& inner) : inner_(inner) {}
  Task<DnsAnswer> query(std::string name, std::uint16_t type) override;
  // The first answer recorded for (name, type), else a fresh query (then recorded).
  Task<DnsAnswer> lookup(std::string name, std::uint16_t type);

 private:
  DnsSource& inner_;
  std::map<std::pair<std::string, std::uint16_t>, DnsAnswer> seen_;
};

class RecordingFetcher final : public StsFetcher {
 public:
  explicit RecordingFetcher(StsFetcher& inner) : inner_(inner) {}
  Task<StsFetchResult> fetch(std::string policy_domain) override;
  const StsFetchResult* last(const std::string& policy_domain) const;

 private:
  StsFetcher& inner_;
  std::map<std::string, StsFetchResult> seen_;
};

// `domain` must be a normalised domain (parse::parse_next_hop kind domain). `lookup` must ask
// `dns` and `fetcher` (a PolicyService built on them, without a cache). Never throws for
// DNS, HTTPS or SMTP failures; `answer` is left empty for the caller.
Task<CheckReport> run_check(std::string domain, PolicyLookup& lookup, RecordingDns& dns,
                            RecordingFetcher& fetcher, StarttlsProber& prober);

}  // namespace tlsfence::check
