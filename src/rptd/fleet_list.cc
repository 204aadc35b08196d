// FleetReports::list — `tlsfence report list` for the fleet: per (day, domain) the fleet's
// outcome totals and each host's, the report (who built it), each rua with its state, lease
// and every attempt (which host, when, what happened). See fleet_reports.h.
#include <map>
#include <tuple>

#include "rptd/fleet_reports.h"
#include "tlsrpt/report.h"

namespace tlsfence::rptd {
namespace {

std::string text(const fleet::Value& v) {
  return v.value_or("");
}
std::int64_t as_int(const fleet::Value& v) {
  return v ? std::atoll(v->c_str()) : 0;
}
std::string when(std::int64_t t) {
  return t > 0 ? tlsrpt::rfc3339_utc(t) : "-";
}

using Key = std::pair<std::int64_t, std::string>;  // day, domain

struct Entry {
  std::uint64_t success = 0, failure = 0;
  std::vector<std::tuple<std::string, std::uint64_t, std::uint64_t>> hosts;
  std::string report;  // "FILE (id ID, built by HOST)"
  std::vector<fleet::Row> deliveries;
};

}  // namespace

bool FleetReports::list(std::ostream& out, std::string& error) {
  const fleet::Outcome outcomes =
      call({{"SELECT day, domain, host, successes, failures FROM tlsfence_tlsrpt_outcomes ORDER BY day, "
             "domain, host",
             {}}});
  const fleet::Outcome reports =
      call({{"SELECT day, domain, report_id, file, built_by, built_at FROM tlsfence_tlsrpt_reports", {}}});
  const fleet::Outcome deliveries =
      call({{"SELECT day, domain, rua, state, attempts, next_attempt, coalesce(lease_host, ''), "
             "coalesce(lease_until, 0), "
             "coalesce(delivered_by, '') FROM tlsfence_tlsrpt_deliveries ORDER BY day, domain, rua",
             {}}});
  const fleet::Outcome attempts = call(
      {{"SELECT day, domain, rua, host, time, ok, detail, gave_up FROM tlsfence_tlsrpt_attempts ORDER BY id",
        {}}});
  for (const auto* o : {&outcomes, &reports, &deliveries, &attempts}) {
    if (!o->ok) {
      error = o->error;
      return false;
    }
  }
  std::map<Key, Entry> entries;
  for (const auto& r : outcomes.rows) {
    auto& e = entries[{as_int(r[0]), text(r[1])}];
    const auto s = static_cast<std::uint64_t>(as_int(r[3])), f = static_cast<std::uint64_t>(as_int(r[4]));
    e.success += s;
    e.failure += f;
    e.hosts.emplace_back(text(r[2]), s, f);
  }
  for (const auto& r : reports.rows)
    entries[{as_int(r[0]), text(r[1])}].report =
        text(r[3]) + " (id " + text(r[2]) + ", built by " + text(r[4]) + " at " + when(as_int(r[5])) + ")";
  for (const auto& r : deliveries.rows) entries[{as_int(r[0]), text(r[1])}].deliveries.push_back(r);
  std::map<std::tuple<std::int64_t, std::string, std::string>, std::vector<const fleet::Row*>> tries;
  for (const auto& r : attempts.rows) tries[{as_int(r[0]), text(r[1]), text(r[2])}].push_back(&r);

  const std::int64_t t = now();
  for (const auto& [key, e] : entries) {
    out << tlsrpt::day_string(key.first) << " " << key.second << " success " << e.success << " failure "
        << e.failure << " (" << e.hosts.size() << (e.hosts.size() == 1 ? " host" : " hosts") << ")\n";
    for (const auto& [host, s, f] : e.hosts)
      out << "  host " << host << " success " << s << " failure " << f << "\n";
    if (!e.report.empty()) out << "  report " << e.report << "\n";
    for (const auto& d : e.deliveries) {
      const std::string state = text(d[3]);
      const auto n = as_int(d[4]);
      out << "    rua " << text(d[2]) << "  " << state << ", " << n << (n == 1 ? " attempt" : " attempts")
          << ", next retry " << (state == "pending" ? when(as_int(d[5])) : "-");
      if (state == "delivered") out << ", delivered by " << text(d[8]);
      if (state == "pending" && !text(d[6]).empty() && as_int(d[7]) >= t)
        out << ", leased by " << text(d[6]) << " until " << when(as_int(d[7]));
      out << "\n";
      for (const fleet::Row* a : tries[{key.first, key.second, text(d[2])}]) {
        out << "      " << when(as_int((*a)[4])) << " " << (text((*a)[5]) == "t" ? "ok  " : "fail") << " "
            << text((*a)[6]) << " (" << text((*a)[3]) << ")" << (text((*a)[7]) == "t" ? " (given up)" : "")
            << "\n";
      }
    }
  }
  return true;
}

}  // namespace tlsfence::rptd
