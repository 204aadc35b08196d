// g++ 12 misreports Asio coroutine frames (operator new/delete of awaitable_frame).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include "fake_dns.h"

#include "parse/dns_wire.h"

namespace tlsfence::test {

Task<DnsAnswer> FakeDns::query(std::string name, std::uint16_t type) {
  queries.emplace_back(name, type);
  auto it = table_.find({name, type});
  DnsAnswer a = it != table_.end() ? it->second : fallback;
  a.qname = name;
  a.qtype = type;
  co_return a;
}

void FakeDns::set(const std::string& name, std::uint16_t type, DnsAnswer a) {
  table_[{name, type}] = std::move(a);
}

void FakeDns::rrset(const std::string& name, std::uint16_t type, std::vector<std::string> rdata,
                    DnssecState s, std::uint32_t ttl, std::string canonname) {
  DnsAnswer a;
  a.rcode = rcode::noerror;
  a.havedata = !rdata.empty();
  a.rdata = std::move(rdata);
  a.dnssec = s;
  a.ttl = ttl;
  a.canonname = canonname.empty() ? name : canonname;
  set(name, type, std::move(a));
}

void FakeDns::mx(const std::string& domain, std::vector<std::pair<std::uint16_t, std::string>> hosts,
                 DnssecState s, std::uint32_t ttl) {
  std::vector<std::string> rdata;
  for (auto& [pref, name] : hosts) rdata.push_back(parse::encode_mx_rdata(pref, name));
  rrset(domain, rrtype::MX, std::move(rdata), s, ttl);
}

void FakeDns::host(const std::string& name, const std::string& ipv4, DnssecState s, std::uint32_t ttl) {
  rrset(name, rrtype::A, {parse::encode_a_rdata(ipv4)}, s, ttl);
  set(name, rrtype::AAAA, nodata(s, ttl));
}

void FakeDns::tlsa(const std::string& host, std::vector<std::string> rdata, DnssecState s,
                   std::uint32_t ttl) {
  rrset("_25._tcp." + host, rrtype::TLSA, std::move(rdata), s, ttl);
}

DnsAnswer nodata(DnssecState s, std::uint32_t ttl) {
  DnsAnswer a;
  a.dnssec = s;
  a.ttl = ttl;
  return a;
}

DnsAnswer nxdomain(DnssecState s, std::uint32_t ttl) {
  DnsAnswer a = nodata(s, ttl);
  a.rcode = rcode::nxdomain;
  return a;
}

DnsAnswer bogus(std::string why, bool with_data) {
  DnsAnswer a;
  a.dnssec = DnssecState::bogus;
  a.why_bogus = std::move(why);
  a.havedata = with_data;  // libunbound hands bogus data back with rcode 0
  if (with_data) a.rdata.push_back(parse::encode_mx_rdata(10, "evil.example"));
  a.ttl = 60;
  return a;
}

DnsAnswer servfail() {
  DnsAnswer a;
  a.rcode = rcode::servfail;
  return a;
}

DnsAnswer timed_out() {
  DnsAnswer a;
  a.timed_out = true;
  return a;
}

DnsAnswer resolver_error(std::string text) {
  DnsAnswer a;
  a.error = std::move(text);
  return a;
}

std::string tlsa_rdata(int usage, int selector, int mtype, std::size_t data_len) {
  return parse::encode_tlsa_rdata(static_cast<std::uint8_t>(usage), static_cast<std::uint8_t>(selector),
                                  static_cast<std::uint8_t>(mtype), std::string(data_len, '\x5a'));
}

}  // namespace tlsfence::test
