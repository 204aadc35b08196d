#pragma once
// A DnsSource answering from a table (name, type) → DnsAnswer, for unit tests of pure logic.
// Names not in the table get `fallback` (secure NODATA unless changed). Every query is
// recorded so tests can check what was asked.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "policy/dns_source.h"

namespace tlsfence::test {

// Answer builders.
DnsAnswer nodata(DnssecState s = DnssecState::secure, std::uint32_t ttl = 3600);
DnsAnswer nxdomain(DnssecState s = DnssecState::secure, std::uint32_t ttl = 3600);
DnsAnswer bogus(std::string why, bool with_data = true);
DnsAnswer servfail();
DnsAnswer timed_out();
DnsAnswer resolver_error(std::string text);

class FakeDns final : public DnsSource {
 public:
  Task<DnsAnswer> query(std::string name, std::uint16_t type) override;

  void set(const std::string& name, std::uint16_t type, DnsAnswer a);
  // Convenience: records of one RRset with a DNSSEC state.
  void rrset(const std::string& name, std::uint16_t type, std::vector<std::string> rdata,
             DnssecState s = DnssecState::secure, std::uint32_t ttl = 3600, std::string canonname = "");
  void mx(const std::string& domain, std::vector<std::pair<std::uint16_t, std::string>> hosts,
          DnssecState s = DnssecState::secure, std::uint32_t ttl = 3600);
  // A (and secure NODATA AAAA) for a host.
  void host(const std::string& name, const std::string& ipv4, DnssecState s = DnssecState::secure,
            std::uint32_t ttl = 3600);
  void tlsa(const std::string& host, std::vector<std::string> rdata, DnssecState s = DnssecState::secure,
            std::uint32_t ttl = 3600);

  DnsAnswer fallback = nodata();  // answer for anything not set; qname/qtype filled in
  std::vector<std::pair<std::string, std::uint16_t>> queries;

 private:
  std::map<std::pair<std::string, std::uint16_t>, DnsAnswer> table_;
};

// TLSA RDATA: "good" 3 1 1, "ca" 2 0 1, and any other combination.
std::string tlsa_rdata(int usage, int selector, int mtype, std::size_t data_len);
inline std::string tlsa_good() {
  return tlsa_rdata(3, 1, 1, 32);
}
inline std::string tlsa_ca() {
  return tlsa_rdata(2, 0, 1, 32);
}

}  // namespace tlsfence::test
