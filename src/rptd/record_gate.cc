// check_records(): the per-(day, domain) `_smtp._tls` decision, cached in tlsrpt.db (see
// record_gate.h).
#include "rptd/record_gate.h"

#include <algorithm>

#include "tlsrpt/report.h"

namespace tlsfence::rptd {
namespace {

std::optional<parse::TlsrptRecord> parse_stored(const std::string& text) {
  return parse::parse_tlsrpt_record(text).record;
}

}  // namespace

GateResult check_records(tlsrpt::Store& store, Transport& transport, std::int64_t day,
                         const std::vector<std::string>& domains, std::int64_t now, const Backoff& backoff,
                         RetryFailed retry) {
  using S = tlsrpt::RecordState;
  GateResult g;
  std::map<std::string, tlsrpt::RecordLookup> known;
  for (auto& r : store.record_lookups(day)) known.emplace(r.domain, std::move(r));
  auto skip = [&g](const std::string& reason) {
    ++g.skipped[reason];
    ++g.skipped_total;
  };
  auto decide = [&](const tlsrpt::RecordLookup& r) {
    switch (r.state) {
      case S::valid:
        if (auto rec = parse_stored(r.detail)) {
          g.reportable.emplace_back(r.domain, std::move(*rec));
        } else {
          skip("unusable-stored-record");
        }
        return;
      case S::none: skip(r.detail); return;
      case S::temporary: g.pending.push_back(r); return;
      case S::gave_up: g.gave_up.push_back(r); return;
    }
  };
  std::vector<std::string> ask;
  for (const auto& d : domains) {
    auto it = known.find(d);
    if (it == known.end()) {
      ask.push_back(d);
      continue;
    }
    const auto& r = it->second;
    const bool failed = r.state == S::temporary || r.state == S::gave_up;
    if (failed && (retry == RetryFailed::now || (r.state == S::temporary && r.next_attempt <= now))) {
      ask.push_back(d);
    } else {
      decide(r);
    }
  }
  if (!ask.empty()) {
    const auto answers = transport.records(ask);
    g.looked_up = ask.size();
    for (std::size_t i = 0; i < ask.size(); ++i) {
      tlsrpt::RecordLookup r;
      if (auto it = known.find(ask[i]); it != known.end()) r = it->second;
      const bool first = r.first_checked == 0 || r.state == S::gave_up;
      r.day = day;
      r.domain = ask[i];
      r.checked = now;
      if (first) {
        r.first_checked = now;
        r.failures = 0;
      }
      const RecordAnswer a = i < answers.size() ? answers[i] : RecordAnswer{S::temporary, "no answer"};
      r.detail = a.detail;
      r.next_attempt = 0;
      if (a.state == S::temporary) {
        ++r.failures;
        const auto next = now + backoff_delay(r.failures, backoff).count();
        if (next > r.first_checked + backoff.give_up_after.count()) {
          r.state = S::gave_up;
        } else {
          r.state = S::temporary;
          r.next_attempt = next;
        }
      } else {
        r.state = a.state;
      }
      store.put_record_lookup(r);
      decide(r);
    }
  }
  std::sort(g.reportable.begin(), g.reportable.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return g;
}

void count_gate(const GateResult& gate, DayDelivery& r) {
  r.without_record += gate.skipped_total;
  r.lookups_pending += gate.pending.size();
  r.lookups_given_up += gate.gave_up.size();
}

void print_lookup_waits(std::int64_t day, const GateResult& gate, std::ostream& out) {
  auto one_line = [](std::string s) {
    for (char& c : s)
      if (c == '\n' || c == '\r') c = ' ';
    return s;
  };
  for (const auto& p : gate.pending)
    out << p.domain << ": report of " << tlsrpt::day_string(day)
        << " waits: record lookup failed temporarily (" << one_line(p.detail) << "), retry at "
        << tlsrpt::rfc3339_utc(p.next_attempt) << "\n";
  for (const auto& p : gate.gave_up)
    out << p.domain << ": no report of " << tlsrpt::day_string(day)
        << ": record lookup failed temporarily since " << tlsrpt::rfc3339_utc(p.first_checked) << " ("
        << one_line(p.detail) << "), given up\n";
}

std::string skipped_summary(const GateResult& g) {
  if (g.skipped_total == 0) return {};
  std::string s = "skipped " + std::to_string(g.skipped_total) +
                  (g.skipped_total == 1 ? " domain" : " domains") +
                  " without exactly one valid _smtp._tls record (";
  bool first = true;
  for (const auto& [reason, n] : g.skipped) {
    s += (first ? "" : ", ") + reason + ": " + std::to_string(n);
    first = false;
  }
  return s + ")";
}

}  // namespace tlsfence::rptd
