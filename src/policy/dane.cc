// DANE evaluation (see dane.h for the rules). Trusts only what the DnsSource marks secure;
// anything it cannot judge becomes a temporary failure, never a silent "no policy".
// g++ 12 misreports Asio coroutine frames (operator new/delete of awaitable_frame).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include "policy/dane.h"

#include <algorithm>
#include <cctype>
#include <exception>
#include <memory>
#include <optional>

#include "async/asio.h"  // before any other Asio header
#include "parse/dns_wire.h"
#include "parse/domain.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>

namespace tlsfence::dane {
namespace {

constexpr const char* kDnssecInvalid = "dnssec-invalid";

std::string rrset_name(const std::string& name, std::uint16_t type) {
  switch (type) {
    case rrtype::MX: return name + " MX";
    case rrtype::A: return name + " A";
    case rrtype::AAAA: return name + " AAAA";
    case rrtype::TLSA: return name + " TLSA";
    default: return name + " type " + std::to_string(type);
  }
}

// Why an answer cannot be used, or nullopt when it can (it may still be insecure).
std::optional<std::string> unusable_answer(const DnsAnswer& a) {
  std::string what = rrset_name(a.qname, a.qtype);
  if (a.timed_out) return "DNS lookup of " + what + " timed out";
  if (a.dnssec == DnssecState::bogus)
    return "DNSSEC validation of " + what + " failed" + (a.why_bogus.empty() ? "" : ": " + a.why_bogus);
  if (!a.error.empty()) return "DNS lookup of " + what + " failed: " + a.error;
  if (a.rcode == rcode::servfail) return "DNS lookup of " + what + " failed: SERVFAIL";
  if (a.rcode != rcode::noerror && a.rcode != rcode::nxdomain)
    return "DNS lookup of " + what + " failed: rcode " + std::to_string(a.rcode);
  if (a.dnssec == DnssecState::indeterminate) return "DNSSEC state of " + what + " is indeterminate";
  return std::nullopt;
}

bool same_name(std::string_view a, std::string_view b) {
  if (!a.empty() && a.back() == '.') a.remove_suffix(1);
  if (!b.empty() && b.back() == '.') b.remove_suffix(1);
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string lower_no_dot(std::string s) {
  if (!s.empty() && s.back() == '.') s.pop_back();
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// What one MX host contributed.
struct HostResult {
  DaneHost host;
  bool counted = true;                 // false: no address records, cannot receive mail
  bool unusable_tlsa = false;          // TLSA present (secure) but no usable record
  std::optional<std::string> failure;  // temp_fail reason
  std::uint32_t ttl = UINT32_MAX;
  std::vector<std::string> reasons;
};

void take_ttl(HostResult& r, const DnsAnswer& a) {
  r.ttl = std::min(r.ttl, a.ttl);
}

// Looks for TLSA at _25._tcp.<base>. Returns true when an RRset was found (whatever its
// state), false when there is none (NXDOMAIN/NODATA) so the caller may try another base.
Task<bool> tlsa_at(DnsSource& dns, const std::string& base, HostResult& r) {
  std::string qname = "_25._tcp." + base;
  DnsAnswer a = co_await dns.query(qname, rrtype::TLSA);
  if (auto why = unusable_answer(a)) {
    r.failure = *why;
    r.host.tlsa_state = a.dnssec;
    co_return true;
  }
  take_ttl(r, a);
  if (!a.havedata || a.rcode == rcode::nxdomain) {
    r.reasons.push_back("no TLSA records at " + qname + " (" +
                        std::string(a.rcode == rcode::nxdomain ? "NXDOMAIN" : "NODATA") + ", " +
                        std::string(to_string(a.dnssec)) + ")");
    co_return false;
  }
  r.host.tlsa_base = base;
  r.host.tlsa_state = a.dnssec;
  if (a.dnssec != DnssecState::secure) {
    r.host.note = "TLSA RRset at " + qname + " is " + std::string(to_string(a.dnssec)) + ": not DANE";
    co_return true;
  }
  std::size_t usable = 0, malformed = 0;
  for (const std::string& rd : a.rdata) {
    if (auto rec = parse::parse_tlsa_rdata(rd)) {
      usable += rec->usable ? 1 : 0;
      r.host.tlsa.push_back(std::move(*rec));
    } else {
      ++malformed;
    }
  }
  std::string counts = std::to_string(usable) + " usable of " + std::to_string(a.rdata.size()) +
                       " TLSA records" + (malformed ? " (" + std::to_string(malformed) + " malformed)" : "");
  if (usable > 0) {
    r.host.dane = true;
    r.host.note = "secure TLSA at " + qname + ": " + counts;
  } else {
    r.unusable_tlsa = true;
    r.host.note = "secure TLSA at " + qname + " but " + counts + ": mandatory TLS, not authenticated";
  }
  co_return true;
}

Task<HostResult> evaluate_host(DnsSource& dns, std::string name, std::uint16_t preference) {
  HostResult r;
  r.host.name = name;
  r.host.preference = preference;
  if (!parse::is_valid_hostname(name)) {
    r.host.note = "MX host \"" + name + "\" is not a valid host name: not DANE";
    co_return r;
  }
  DnsAnswer a4 = co_await dns.query(name, rrtype::A);
  if (auto why = unusable_answer(a4)) {
    r.failure = *why;
    r.host.address_state = a4.dnssec;
    co_return r;
  }
  DnsAnswer a6 = co_await dns.query(name, rrtype::AAAA);
  if (auto why = unusable_answer(a6)) {
    r.failure = *why;
    r.host.address_state = a6.dnssec;
    co_return r;
  }
  take_ttl(r, a4);
  take_ttl(r, a6);
  bool secure = a4.dnssec == DnssecState::secure && a6.dnssec == DnssecState::secure;
  r.host.address_state = secure ? DnssecState::secure : DnssecState::insecure;
  if (!a4.havedata && !a6.havedata) {
    r.counted = false;
    r.host.note = "no address records (" + std::string(to_string(r.host.address_state)) + "): host skipped";
    co_return r;
  }
  if (!secure) {
    r.host.note = "address records insecure: not DANE (RFC 7672 §2.2.2)";
    co_return r;
  }
  const DnsAnswer& with_data = a4.havedata ? a4 : a6;
  std::string expanded = lower_no_dot(with_data.canonname);
  if (!expanded.empty() && !same_name(expanded, name)) {
    r.reasons.push_back(name + " is an alias of " + expanded + " (secure): TLSA at the expanded name first");
    if (co_await tlsa_at(dns, expanded, r)) co_return r;
  }
  if (!co_await tlsa_at(dns, name, r)) {
    r.host.note = "secure address, no TLSA records: not DANE";
    r.host.tlsa_state = DnssecState::secure;
  }
  co_return r;
}

// Runs every host evaluation concurrently on the current executor and waits for all.
Task<std::vector<HostResult>> evaluate_hosts(DnsSource& dns, const std::vector<parse::MxRdata>& hosts) {
  struct Join {
    explicit Join(asio::any_io_executor ex, std::size_t n) : timer(ex), remaining(n), results(n) {}
    asio::steady_timer timer;
    std::size_t remaining;
    std::vector<HostResult> results;
    std::exception_ptr error;
  };
  auto ex = co_await asio::this_coro::executor;
  auto join = std::make_shared<Join>(ex, hosts.size());
  join->timer.expires_at(asio::steady_timer::time_point::max());
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    asio::co_spawn(ex, evaluate_host(dns, hosts[i].exchange, hosts[i].preference),
                   [join, i](std::exception_ptr e, HostResult r) {
                     if (e && !join->error) join->error = e;
                     if (!e) join->results[i] = std::move(r);
                     if (--join->remaining == 0) join->timer.cancel();
                   });
  }
  while (join->remaining > 0) {
    boost::system::error_code ec;
    co_await join->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (join->error) std::rethrow_exception(join->error);
  co_return std::move(join->results);
}

PolicyDecision temp_fail(PolicyDecision d, std::string why) {
  d.verdict = Verdict::temp_fail;
  d.source = Source::none;
  d.level.clear();
  d.temp_reason = why;
  d.result_type = kDnssecInvalid;
  d.ttl = 0;
  d.reasons.push_back(std::move(why));
  return d;
}

PolicyDecision no_policy(PolicyDecision d, std::string why, std::uint32_t ttl) {
  d.verdict = Verdict::no_policy;
  d.source = Source::none;
  d.ttl = ttl;
  d.reasons.push_back(std::move(why));
  return d;
}

// The MX RRset in preference order, duplicates removed; nullopt when a record is malformed.
std::optional<std::vector<parse::MxRdata>> mx_hosts(const DnsAnswer& a) {
  std::vector<parse::MxRdata> out;
  for (const std::string& rd : a.rdata) {
    auto mx = parse::parse_mx_rdata(rd);
    if (!mx) return std::nullopt;
    out.push_back(std::move(*mx));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& x, const auto& y) { return x.preference < y.preference; });
  std::vector<parse::MxRdata> unique;
  for (auto& mx : out) {
    if (std::none_of(unique.begin(), unique.end(), [&](const auto& u) { return u.exchange == mx.exchange; }))
      unique.push_back(std::move(mx));
  }
  return unique;
}

}  // namespace

Task<PolicyDecision> evaluate(DnsSource& dns, std::string domain) {
  PolicyDecision d;
  d.domain = domain;
  DnsAnswer mx = co_await dns.query(domain, rrtype::MX);
  d.mx_dnssec = mx.dnssec;
  if (auto why = unusable_answer(mx)) co_return temp_fail(std::move(d), *why);
  if (mx.rcode == rcode::nxdomain)
    co_return no_policy(std::move(d),
                        domain + " does not exist (NXDOMAIN, " + std::string(to_string(mx.dnssec)) + ")",
                        mx.ttl);
  if (mx.dnssec != DnssecState::secure)
    co_return no_policy(std::move(d), domain + " MX RRset is insecure: DANE does not apply (DNSSEC insecure)",
                        mx.ttl);

  std::vector<parse::MxRdata> hosts;
  if (!mx.havedata) {
    d.reasons.push_back("no MX records (secure NODATA): implicit MX " + domain + " (RFC 5321 §5.1)");
    hosts.push_back(parse::MxRdata{0, domain});
  } else {
    auto parsed = mx_hosts(mx);
    if (!parsed) co_return temp_fail(std::move(d), "malformed MX record for " + domain);
    if (parsed->size() == 1 && parsed->front().exchange == ".")
      co_return no_policy(std::move(d), domain + " has a null MX (RFC 7505): no mail accepted", mx.ttl);
    std::erase_if(*parsed, [](const auto& m) { return m.exchange == "."; });
    hosts = std::move(*parsed);
    d.reasons.push_back(domain + " MX RRset secure: " + std::to_string(hosts.size()) + " host(s)");
  }
  std::uint32_t ttl = mx.ttl;

  std::size_t unchecked = 0;
  if (hosts.size() > mx_hosts_max) {
    unchecked = hosts.size() - mx_hosts_max;
    hosts.resize(mx_hosts_max);
  }
  std::vector<HostResult> results = co_await evaluate_hosts(dns, hosts);

  std::size_t counted = 0, dane = 0, unusable = 0;
  for (HostResult& r : results) {
    for (auto& line : r.reasons) d.reasons.push_back(std::move(line));
    if (r.failure) {
      d.dane_hosts.push_back(r.host);
      co_return temp_fail(std::move(d), *r.failure);
    }
    ttl = std::min(ttl, r.ttl);
    d.reasons.push_back("MX " + std::to_string(r.host.preference) + " " + r.host.name + ": " + r.host.note);
    counted += r.counted ? 1 : 0;
    dane += r.host.dane ? 1 : 0;
    unusable += r.unusable_tlsa ? 1 : 0;
    d.dane_hosts.push_back(std::move(r.host));
  }
  if (unchecked > 0) {
    counted += unchecked;
    d.reasons.push_back(std::to_string(unchecked) + " further MX host(s) beyond " +
                        std::to_string(mx_hosts_max) + " not checked: counted as not DANE");
  }

  d.ttl = ttl;
  if (counted > 0 && dane == counted) {
    d.verdict = Verdict::policy;
    d.source = Source::dane;
    d.level = "dane-only";
    d.reasons.push_back("every MX host has usable secure TLSA: dane-only");
  } else if (dane > 0) {
    d.verdict = Verdict::policy;
    d.source = Source::dane;
    d.level = "dane";
    d.reasons.push_back(std::to_string(dane) + " of " + std::to_string(counted) +
                        " MX hosts have usable secure TLSA: dane");
  } else if (unusable > 0) {
    d.verdict = Verdict::policy;
    d.source = Source::dane;
    d.level = "encrypt";
    d.reasons.push_back("TLSA records present but none usable: mandatory TLS (encrypt)");
  } else {
    d.verdict = Verdict::no_policy;
    d.reasons.push_back("no MX host has secure TLSA records: DANE does not apply");
  }
  co_return d;
}

}  // namespace tlsfence::dane
