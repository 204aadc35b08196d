// `tlsfence check`: decision, records, probes (see run.h).
#include "check/run.h"

// g++ 12 at -O2 reports a false -Wmismatched-new-delete inside Asio's coroutine frame
// allocator (thread_info_base.hpp).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <functional>
#include <set>

#include "check/verdict.h"
#include "parse/dns_wire.h"
#include "parse/sts_policy.h"
#include "parse/sts_txt.h"

namespace tlsfence::check {

Task<DnsAnswer> RecordingDns::query(std::string name, std::uint16_t type) {
  DnsAnswer a = co_await inner_.query(name, type);
  seen_.try_emplace({name, type}, a);
  co_return a;
}

Task<DnsAnswer> RecordingDns::lookup(std::string name, std::uint16_t type) {
  if (auto it = seen_.find({name, type}); it != seen_.end()) co_return it->second;
  co_return co_await query(std::move(name), type);
}

Task<StsFetchResult> RecordingFetcher::fetch(std::string policy_domain) {
  StsFetchResult r = co_await inner_.fetch(policy_domain);
  seen_[policy_domain] = r;
  co_return r;
}

const StsFetchResult* RecordingFetcher::last(const std::string& policy_domain) const {
  auto it = seen_.find(policy_domain);
  return it == seen_.end() ? nullptr : &it->second;
}

namespace {

std::vector<std::string> txt_strings(const DnsAnswer& a) {
  std::vector<std::string> out;
  for (const auto& rd : a.rdata) {
    if (auto t = parse::parse_txt_rdata(rd)) out.push_back(*t);
  }
  return out;
}

// MX hosts in preference order (the implicit MX when the domain has none).
void collect_hosts(CheckReport& r, const DnsAnswer& mx) {
  if (mx.failed() || mx.nxdomain() || mx.dnssec == DnssecState::bogus) return;
  if (mx.nodata()) {
    r.implicit_mx = true;
    r.hosts.push_back(HostCheck{.name = r.domain});
    return;
  }
  std::vector<parse::MxRdata> list;
  for (const auto& rd : mx.rdata) {
    if (auto m = parse::parse_mx_rdata(rd)) list.push_back(*m);
  }
  if (list.size() == 1 && list[0].exchange == ".") {
    r.null_mx = true;
    return;
  }
  std::stable_sort(list.begin(), list.end(),
                   [](const auto& a, const auto& b) { return a.preference < b.preference; });
  std::set<std::string> seen;
  for (const auto& m : list) {
    if (m.exchange == "." || !seen.insert(m.exchange).second) continue;
    if (r.hosts.size() >= check_hosts_max) break;
    HostCheck h;
    h.name = m.exchange;
    h.preference = m.preference;
    r.hosts.push_back(std::move(h));
  }
}

Task<void> mta_sts(CheckReport& r, RecordingDns& dns, RecordingFetcher& fetcher) {
  const DnsAnswer txt = co_await dns.lookup("_mta-sts." + r.domain, rrtype::TXT);
  r.sts.txt = view_of(txt);
  if (txt.failed() || txt.dnssec == DnssecState::bogus) {
    r.sts.txt_error =
        "lookup failed (" + r.sts.txt.status + (txt.why_bogus.empty() ? "" : ", " + txt.why_bogus) + ")";
  } else {
    const parse::StsTxtResult t = parse::parse_sts_txt(txt_strings(txt));
    if (t.ok()) {
      r.sts.txt_id = t.id;
    } else {
      r.sts.txt_error = std::string(parse::to_string(t.error)) + (t.detail.empty() ? "" : ": " + t.detail);
    }
  }
  const StsFetchResult* fetched = fetcher.last(r.domain);
  StsFetchResult own;
  if (!fetched && !r.sts.txt_id.empty()) {
    // The decision did not need the policy (DANE applies, or it failed first): fetch it to show it.
    own = co_await fetcher.fetch(r.domain);
    fetched = &own;
    if (r.decision.source == Source::dane)
      r.sts.note = "not consulted by the decision: DANE applies (RFC 8461 §2)";
  }
  if (fetched) {
    r.sts.fetched = true;
    r.sts.fetch = *fetched;
    r.sts.fetch.body.clear();
    if (fetched->ok()) {
      parse::StsPolicyResult p = parse::parse_sts_policy(fetched->body);
      if (p.ok()) {
        p.policy.id = r.sts.txt_id;
        r.sts.policy = std::move(p.policy);
      } else {
        r.sts.policy_error = std::string(parse::to_string(p.error)) +
                             (p.line ? " (line " + std::to_string(p.line) + ")" : "") +
                             (p.detail.empty() ? "" : ": " + p.detail);
      }
    }
  }
  if (!r.sts.policy && r.decision.sts) r.sts.policy = r.decision.sts;
}

Task<void> tlsrpt(CheckReport& r, RecordingDns& dns) {
  const DnsAnswer txt = co_await dns.lookup("_smtp._tls." + r.domain, rrtype::TXT);
  r.tlsrpt.txt = view_of(txt);
  if (txt.failed() || txt.dnssec == DnssecState::bogus) {
    r.tlsrpt.error = "lookup failed (" + r.tlsrpt.txt.status + ")";
    co_return;
  }
  const parse::TlsrptRecordResult t = parse::select_tlsrpt_record(txt_strings(txt));
  if (t.record) {
    r.tlsrpt.record = t.record;
  } else {
    r.tlsrpt.error = std::string(parse::to_string(t.error));
  }
}

Task<void> host_records(HostCheck& h, RecordingDns& dns) {
  h.a = view_of(co_await dns.lookup(h.name, rrtype::A));
  h.aaaa = view_of(co_await dns.lookup(h.name, rrtype::AAAA));
  const DnsAnswer tlsa = co_await dns.lookup("_25._tcp." + h.name, rrtype::TLSA);
  h.tlsa = view_of(tlsa);
  if (!tlsa.failed()) {
    for (const auto& rd : tlsa.rdata) {
      if (auto t = parse::parse_tlsa_rdata(rd)) h.tlsa_records.push_back(*t);
    }
  }
}

std::vector<std::string> addresses_of(const HostCheck& h) {
  std::vector<std::string> out;
  for (const RRsetView* v : {&h.aaaa, &h.a}) {
    if (v->failed || v->dnssec == DnssecState::bogus || v->status != "ok") continue;
    for (const auto& addr : v->records) {
      if (out.size() < check_addresses_max && addr.rfind("(malformed", 0) != 0) out.push_back(addr);
    }
  }
  return out;
}

// Runs every job concurrently on this coroutine's executor and returns when all have finished
// (each is bounded by its own deadline: DNS timeout, probe timeout). A job that throws counts
// as finished.
Task<void> run_all(std::vector<std::function<Task<void>()>> jobs) {
  struct Join {
    explicit Join(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    std::size_t left = 0;
  };
  auto join = std::make_shared<Join>(co_await asio::this_coro::executor);
  join->left = jobs.size();
  join->timer.expires_at(asio::steady_timer::time_point::max());
  for (auto& job : jobs) {
    asio::co_spawn(join->timer.get_executor(), std::move(job), [join](std::exception_ptr) {
      if (--join->left == 0) join->timer.cancel();
    });
  }
  while (join->left > 0) {
    boost::system::error_code ec;
    co_await join->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace

Task<CheckReport> run_check(std::string domain, PolicyLookup& lookup, RecordingDns& dns,
                            RecordingFetcher& fetcher, StarttlsProber& prober) {
  CheckReport r;
  r.domain = domain;
  r.decision = co_await lookup.decide(domain);
  const DnsAnswer mx = co_await dns.lookup(domain, rrtype::MX);
  r.mx = view_of(mx);
  collect_hosts(r, mx);
  std::vector<std::function<Task<void>()>> lookups;
  for (HostCheck& h : r.hosts) lookups.push_back([&h, &dns] { return host_records(h, dns); });
  lookups.push_back([&r, &dns, &fetcher] { return mta_sts(r, dns, fetcher); });
  lookups.push_back([&r, &dns] { return tlsrpt(r, dns); });
  co_await run_all(std::move(lookups));

  assign_requirements(r);
  if (r.decision.verdict != Verdict::temp_fail) {
    // Every address at once: an unreachable MX costs one probe timeout, not one per address.
    std::vector<std::function<Task<void>()>> probes;
    for (HostCheck& h : r.hosts) {
      const std::vector<std::string> addresses = addresses_of(h);
      h.probes.resize(addresses.size());
      for (std::size_t i = 0; i < addresses.size(); ++i) {
        probes.push_back([&prober, &h, i, address = addresses[i]]() -> Task<void> {
          h.probes[i] = co_await prober.probe(h.name, address, h.dane ? &*h.dane : nullptr);
        });
      }
    }
    co_await run_all(std::move(probes));
  }
  judge(r);
  co_return r;
}

}  // namespace tlsfence::check
