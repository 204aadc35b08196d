#pragma once
// The DNS lookups the policy code needs, as an interface: src/dns implements it with
// libunbound (DNSSEC validated in process); unit tests inject fake answers.
#include <cstdint>
#include <string>
#include <vector>

#include "async/asio.h"
#include "tlsfence/dnssec.h"

namespace tlsfence {

namespace rrtype {
inline constexpr std::uint16_t A = 1;
inline constexpr std::uint16_t CNAME = 5;
inline constexpr std::uint16_t MX = 15;
inline constexpr std::uint16_t TXT = 16;
inline constexpr std::uint16_t AAAA = 28;
inline constexpr std::uint16_t TLSA = 52;
}  // namespace rrtype

namespace rcode {
inline constexpr int noerror = 0;
inline constexpr int servfail = 2;
inline constexpr int nxdomain = 3;
}  // namespace rcode

struct DnsAnswer {
  std::string qname;  // as asked, no trailing dot
  std::uint16_t qtype = 0;
  bool timed_out = false;      // no answer within the deadline (everything below is empty)
  std::string error;           // the lookup itself failed (resolver error text); empty if none
  int rcode = rcode::noerror;  // DNS RCODE of the final answer
  bool havedata = false;       // rdata non-empty (NOERROR with data)
  DnssecState dnssec = DnssecState::indeterminate;
  std::string why_bogus;           // libunbound's reason when dnssec == bogus
  std::uint32_t ttl = 0;           // TTL of the answer RRset (or negative TTL)
  std::string canonname;           // owner name after following CNAMEs (no trailing dot)
  std::vector<std::string> rdata;  // wire-format RDATA of each record, names uncompressed

  bool failed() const { return timed_out || !error.empty() || rcode == rcode::servfail; }
  bool nxdomain() const { return !failed() && rcode == rcode::nxdomain; }
  bool nodata() const { return !failed() && rcode == rcode::noerror && !havedata; }
};

class DnsSource {
 public:
  virtual ~DnsSource() = default;
  // Never throws for DNS-level failures: they are reported in the answer.
  virtual Task<DnsAnswer> query(std::string name, std::uint16_t type) = 0;
};

}  // namespace tlsfence
