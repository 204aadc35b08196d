// FleetReports, the build and delivery halves (see fleet_reports.h).
#include "rptd/fleet_reports.h"

#include <nlohmann/json.hpp>
#include <thread>

#include "rptd/fleet_json.h"
#include "rptd/record_gate.h"
#include "tlsrpt/counters.h"
#include "tlsrpt/report.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"  // g++ 12 false positive in nlohmann (GCC bug 105329)
#endif

namespace tlsfence::rptd {
namespace {

using fleet::Statement;

std::string num(std::int64_t v) {
  return std::to_string(v);
}
std::int64_t as_int(const fleet::Value& v) {
  return v ? std::atoll(v->c_str()) : 0;
}
std::string text(const fleet::Value& v) {
  return v.value_or("");
}
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

// json_array_elements in chunks: one statement of 100,000 reports would be one huge parameter.
template <typename Fill>
void chunked(std::vector<Statement>& out, const nlohmann::json& all, std::size_t chunk, Fill statement) {
  for (std::size_t i = 0; i < all.size(); i += chunk) {
    nlohmann::json part = nlohmann::json::array();
    for (std::size_t k = i; k < std::min(all.size(), i + chunk); ++k) part.push_back(all[k]);
    out.push_back(statement(json_dump(part)));
  }
}

// Who may claim a delivery: nobody holds it, this process holds it, or the holder's lease ran out.
constexpr const char* kClaimable =
    "(lease_host IS NULL OR (lease_host = $1 AND lease_pid = $2) OR lease_until < $3)";

}  // namespace

FleetDay FleetReports::build_day(std::int64_t day, Transport& transport, std::ostream& out, bool deliver,
                                 std::optional<std::int64_t> wait_until, RetryFailed retry) {
  FleetDay fd;
  const std::string d = tlsrpt::day_string(day);
  if (const auto up = upload(); !up.ok) {
    out << d << ": fleet report waits: this host's outcomes cannot be uploaded (" << one_line(up.error)
        << "); " << up.remaining << " (day, domain) rows kept in tlsrpt.db\n";
    return fd;
  }
  const auto status = [&]() {
    return call(
        {{"SELECT builder, builder_pid, lease_until, built_at, coalesce(reports, 0) FROM "
          "tlsfence_tlsrpt_days WHERE day = $1",
          {num(day)}}});
  };
  auto said_built = [&](const fleet::Row& r) {
    out << d << ": built for the fleet by " << text(r[0]) << " at " << tlsrpt::rfc3339_utc(as_int(r[3]))
        << " (" << text(r[4]) << " reports)\n";
    fd.state = BuildState::built_elsewhere;
    return fd;
  };
  fleet::Outcome s = status();
  if (!s.ok) {
    out << d << ": fleet report waits: " << one_line(s.error) << "\n";
    return fd;
  }
  if (!s.rows.empty() && s.rows[0][3]) return said_built(s.rows[0]);

  const fleet::Outcome hosts =
      call({{"SELECT host, uploaded_through, last_upload, pending FROM "
             "tlsfence_tlsrpt_uploads WHERE host <> $1",
             {options_.host}}});
  if (!hosts.ok) {
    out << d << ": fleet report waits: " << one_line(hosts.error) << "\n";
    return fd;
  }
  std::vector<HostUpload> marks;
  for (const auto& r : hosts.rows)
    marks.push_back({text(r[0]), as_int(r[1]), as_int(r[2]), static_cast<std::uint64_t>(as_int(r[3]))});
  if (const auto lag = lagging_hosts(marks, day, options_.upload_margin); !lag.empty()) {
    std::string names;
    for (const auto& h : lag) names += (names.empty() ? "" : ", ") + h;
    if (wait_until && now() < *wait_until) {
      out << d << ": fleet report waits for the uploads of " << names << " until "
          << tlsrpt::rfc3339_utc(*wait_until) << "\n";
      fd.state = BuildState::waiting;
      return fd;
    }
    out << d << ": fleet report built without waiting longer for " << names
        << ": what they upload later is not in it\n";
  }

  const std::int64_t t = now();
  const fleet::Outcome claim = call(
      {{"INSERT INTO tlsfence_tlsrpt_days (day, builder, builder_pid, lease_until) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (day) DO UPDATE SET builder = EXCLUDED.builder, builder_pid = EXCLUDED.builder_pid, "
        "lease_until = EXCLUDED.lease_until WHERE tlsfence_tlsrpt_days.built_at IS NULL AND "
        "(tlsfence_tlsrpt_days.lease_until < $5 OR (tlsfence_tlsrpt_days.builder = $2 AND "
        "tlsfence_tlsrpt_days.builder_pid = $3)) RETURNING builder",
        {num(day), options_.host, num(options_.pid), num(t + options_.lease.count()), num(t)}}});
  if (!claim.ok) {
    out << d << ": fleet report waits: " << one_line(claim.error) << "\n";
    return fd;
  }
  if (claim.rows.empty()) {
    s = status();
    if (s.ok && !s.rows.empty() && s.rows[0][3]) return said_built(s.rows[0]);
    if (s.ok && !s.rows.empty())
      out << d << ": fleet report being built by " << text(s.rows[0][0]) << " (pid " << text(s.rows[0][1])
          << "; taken over after " << tlsrpt::rfc3339_utc(as_int(s.rows[0][2]))
          << " if it does not finish)\n";
    fd.state = BuildState::waiting;
    return fd;
  }
  const fleet::Outcome domains = call(
      {{"SELECT DISTINCT domain FROM tlsfence_tlsrpt_outcomes WHERE day = $1 ORDER BY domain", {num(day)}}});
  if (!domains.ok) {
    out << d << ": fleet report waits: " << one_line(domains.error) << "\n";
    return fd;
  }
  std::vector<std::string> names;
  for (const auto& r : domains.rows) names.push_back(text(r[0]));
  if (!store_reports(day, names, transport, out, deliver, true, retry, fd.delivery)) return fd;
  fd.state = BuildState::built;
  out << d << ": " << fd.delivery.reports << (fd.delivery.reports == 1 ? " report" : " reports") << " of "
      << names.size() << (names.size() == 1 ? " domain" : " domains") << " built for the fleet\n";
  return fd;
}

bool FleetReports::store_reports(std::int64_t day, const std::vector<std::string>& domains,
                                 Transport& transport, std::ostream& out, bool deliver, bool guard,
                                 RetryFailed retry, DayDelivery& r) {
  const std::string d = tlsrpt::day_string(day);
  std::string error;
  // With the guard every domain of the day is read; a retry reads only its domains.
  auto aggregates = day_aggregates(day, guard ? std::vector<std::string>{} : domains, out, error);
  if (!aggregates) {
    out << d << ": fleet report waits: " << one_line(error) << "\n";
    return false;
  }
  std::vector<std::string> names;
  for (const auto& [domain, p] : *aggregates) names.push_back(domain);
  const std::int64_t t = now();
  const auto gate = check_records(local_, transport, day, names, t, delivery_.backoff, retry);
  count_gate(gate, r);
  print_lookup_waits(day, gate, out);
  nlohmann::json reports = nlohmann::json::array(), rua = nlohmann::json::array();
  for (const auto& [domain, record] : gate.reportable) {
    const auto built = tlsrpt::build_report(delivery_.meta, day, domain, (*aggregates)[domain]);
    std::filesystem::create_directories(delivery_.outbox);
    tlsrpt::write_report(delivery_.outbox, built, tlsrpt::Durability::none);  // PostgreSQL holds it
    reports.push_back({{"domain", json_text(domain)},
                       {"id", json_text(built.report_id)},
                       {"file", json_text(built.file_name)},
                       {"json", json_text(built.json)}});
    for (const auto& u : record.rua)
      rua.push_back(
          {{"domain", json_text(domain)}, {"rua", json_text(u.uri)}, {"target", json_text(u.target)}});
    ++r.reports;
  }
  if (!gate.reportable.empty()) tlsrpt::sync_outbox(delivery_.outbox);
  std::vector<Statement> st{{"BEGIN", {}}};
  if (guard)  // 1 / 0 (SQLSTATE 22012) when this process no longer holds the day: nothing is stored
    st.push_back(
        {"WITH u AS (UPDATE tlsfence_tlsrpt_days SET built_at = $2, reports = $3 WHERE day = $1 AND "
         "builder = $4 AND builder_pid = $5 AND built_at IS NULL RETURNING 1) SELECT 1 / count(*) FROM u",
         {num(day), num(t), num(static_cast<std::int64_t>(r.reports)), options_.host, num(options_.pid)}});
  chunked(st, reports, 500, [&](std::string part) {
    return Statement{
        "INSERT INTO tlsfence_tlsrpt_reports (day, domain, report_id, file, report, built_by, "
        "built_at) SELECT $1, e->>'domain', e->>'id', e->>'file', e->>'json', $2, $3 FROM "
        "json_array_elements($4::json) e ON CONFLICT (day, domain) DO NOTHING",
        {num(day), options_.host, num(t), std::move(part)}};
  });
  if (deliver)
    chunked(st, rua, 2000, [&](std::string part) {
      return Statement{
          "INSERT INTO tlsfence_tlsrpt_deliveries (day, domain, rua, target, created, state, "
          "next_attempt, lease_host, lease_pid, lease_until) SELECT $1, e->>'domain', e->>'rua', "
          "e->>'target', $2, 'pending', $2, $3, $4, $5 FROM json_array_elements($6::json) e "
          "ON CONFLICT (day, domain, rua) DO NOTHING",
          {num(day), num(t), options_.host, num(options_.pid), num(t + options_.lease.count()),
           std::move(part)}};
    });
  st.push_back({"COMMIT", {}});
  const fleet::Outcome o = call(std::move(st));
  if (!o.ok) {
    if (o.sqlstate == "22012")
      out << d << ": fleet report not stored: another host took the day's build over\n";
    else
      out << d << ": fleet report not stored (built again later): " << one_line(o.error) << "\n";
    r.reports = 0;
    return false;
  }
  return true;
}

DayDelivery FleetReports::retry_lookups(Transport& transport, std::ostream& out, bool deliver) {
  DayDelivery result;
  std::map<std::int64_t, std::vector<std::string>> by_day;
  for (auto& r : local_.due_record_lookups(now())) by_day[r.day].push_back(std::move(r.domain));
  for (const auto& [day, domains] : by_day) {
    if (store_reports(day, domains, transport, out, deliver, false, RetryFailed::when_due, result) &&
        result.reports > 0)
      out << tlsrpt::day_string(day) << ": " << result.reports
          << " fleet report(s) built after a record lookup retry\n";
  }
  return result;
}

DayDelivery FleetReports::attempt_due(Transport& transport, std::ostream& out,
                                      std::optional<std::int64_t> day) {
  DayDelivery result;
  const std::int64_t t = now();
  const std::vector<fleet::Value> who{options_.host, num(options_.pid), num(t)};
  std::string where;
  std::vector<fleet::Value> params = who;
  if (day) {
    // What an operator's `report send --day` leaves alone, said so.
    auto left = who;
    left.push_back(num(*day));
    const fleet::Outcome o = call(
        {{std::string("SELECT domain, rua, state, coalesce(delivered_by, ''), coalesce(lease_host, ''), "
                      "coalesce(lease_until, 0) FROM tlsfence_tlsrpt_deliveries WHERE day = $4 AND (state = "
                      "'delivered' OR NOT ") +
              kClaimable + ") ORDER BY domain, rua",
          left}});
    for (const auto& r : o.rows) {
      if (text(r[2]) == "delivered") {
        ++result.skipped;
        out << text(r[0]) << " " << text(r[1]) << " already delivered (by " << text(r[3]) << ")\n";
      } else {
        out << text(r[0]) << " " << text(r[1]) << " being delivered by " << text(r[4]) << " (lease until "
            << tlsrpt::rfc3339_utc(as_int(r[5])) << ")\n";
      }
    }
    where = "day = $4 AND state <> 'delivered'";
    params.push_back(num(*day));
  } else {
    where = "state = 'pending' AND next_attempt <= $3";
  }
  // One statement claims: the row lock makes a second host's claim see the new lease.
  const fleet::Outcome claimed =
      call({{"UPDATE tlsfence_tlsrpt_deliveries d SET lease_host = $1, lease_pid = $2, lease_until = $3 + " +
                 num(options_.lease.count()) +
                 " FROM (SELECT day, domain, rua FROM tlsfence_tlsrpt_deliveries WHERE " + where + " AND " +
                 kClaimable +
                 " ORDER BY next_attempt, day, domain, rua LIMIT 1000 FOR UPDATE SKIP LOCKED) c WHERE d.day "
                 "= c.day "
                 "AND d.domain = c.domain AND d.rua = c.rua RETURNING d.day, d.domain, d.rua, d.created, "
                 "d.failures",
             params}});
  if (!claimed.ok) {
    out << "fleet deliveries wait: " << one_line(claimed.error) << "\n";
    return result;
  }
  for (const auto& row : claimed.rows) attempt(row, transport, result, out);
  return result;
}

void FleetReports::attempt(const fleet::Row& row, Transport& transport, DayDelivery& r, std::ostream& out) {
  const std::int64_t day = as_int(row[0]), created = as_int(row[3]);
  const std::string domain = text(row[1]), rua = text(row[2]);
  const auto failures = static_cast<std::uint64_t>(as_int(row[4]));
  const std::int64_t t = now();
  // Renewed right before sending: of a claim of many rows, one whose lease ran out while the
  // earlier ones were sent may have been taken over by another host; then it is left to it.
  // (Still ours, expired or not, the renewal wins against any later claim: the row lock.)
  const fleet::Outcome renew = call(
      {{"UPDATE tlsfence_tlsrpt_deliveries SET lease_until = $4 WHERE day = $1 AND domain = $2 AND rua = $3 "
        "AND lease_host = $5 AND lease_pid = $6 RETURNING 1",
        {num(day), domain, rua, num(t + options_.lease.count()), options_.host, num(options_.pid)}}});
  if (!renew.ok || renew.rows.empty()) {
    out << domain << " " << rua << " not attempted: "
        << (renew.ok ? "its lease passed to another host" : "lease not renewed: " + one_line(renew.error))
        << "\n";
    return;
  }
  bool ok = false;
  std::string detail;
  const fleet::Outcome rep =
      call({{"SELECT report_id, file, report FROM tlsfence_tlsrpt_reports WHERE day = "
             "$1 AND domain = $2",
             {num(day), domain}}});
  if (!rep.ok || rep.rows.empty()) {
    detail = rep.ok ? "report missing from the fleet database" : "report not read: " + one_line(rep.error);
  } else {
    tlsrpt::BuiltReport b;
    b.day = day;
    b.policy_domain = domain;
    b.report_id = text(rep.rows[0][0]);
    b.file_name = text(rep.rows[0][1]);
    b.json = text(rep.rows[0][2]);
    b.begin = day * 86400;
    b.end = b.begin + 86399;
    b.gzip = tlsrpt::gzip_compress(b.json);
    auto parsed = parse::parse_tlsrpt_record("v=TLSRPTv1; rua=" + rua);
    if (parsed.record && parsed.record->rua.size() == 1) {
      const auto sent = transport.send(parsed.record->rua.front(), b, t);
      ok = sent.ok;
      detail = one_line(sent.detail);
    } else {
      detail = "unusable rua " + rua;
    }
  }
  tlsrpt::counters().attempt(rua, ok);
  std::optional<std::int64_t> next;
  bool gave_up = false;
  if (ok) {
    ++r.delivered;
  } else {
    ++r.failed;
    const std::int64_t n = t + backoff_delay(failures + 1, delivery_.backoff).count();
    if (n > created + delivery_.backoff.give_up_after.count()) {
      gave_up = true;
      ++r.gave_up;
    } else {
      next = n;
    }
  }
  const std::string state = ok ? "delivered" : next ? "pending" : "gave-up";
  const std::vector<Statement> record{
      {"BEGIN", {}},
      {"INSERT INTO tlsfence_tlsrpt_attempts (day, domain, rua, host, time, ok, detail, next_retry, gave_up) "
       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
       {num(day), domain, rua, options_.host, num(t), ok ? "true" : "false", json_text(detail),
        next ? fleet::Value(num(*next)) : std::nullopt, gave_up ? "true" : "false"}},
      // A failure keeps the lease until the retry is due (+ lease): the retries stay here.
      {"UPDATE tlsfence_tlsrpt_deliveries SET state = $4, next_attempt = $5, attempts = attempts + 1, "
       "failures = failures + $6, lease_until = $7, lease_host = CASE WHEN $7::bigint IS NULL THEN NULL ELSE "
       "lease_host END, lease_pid = CASE WHEN $7::bigint IS NULL THEN NULL ELSE lease_pid END, delivered_by "
       "= "
       "CASE WHEN $4 = 'delivered' THEN $8 ELSE delivered_by END WHERE day = $1 AND domain = $2 AND rua = $3",
       {num(day), domain, rua, state, num(next.value_or(0)), ok ? "0" : "1",
        next ? fleet::Value(num(*next + options_.lease.count())) : std::nullopt, options_.host}},
      {"COMMIT", {}}};
  fleet::Outcome o;
  for (int i = 0; i < 3; ++i) {  // what was sent must be recorded, or another host sends it again
    o = call(record);
    if (o.ok) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  out << domain << " " << rua << " " << (ok ? "ok" : "fail") << " " << detail
      << (gave_up ? " (given up)" : "");
  if (!o.ok) out << " (not recorded in the fleet database: " << one_line(o.error) << ")";
  out << "\n";
}

std::optional<std::int64_t> FleetReports::next_due() {
  const fleet::Outcome o = call(
      {{"SELECT min(CASE WHEN lease_host IS NULL OR (lease_host = $1 AND lease_pid = $2) THEN next_attempt "
        "ELSE greatest(next_attempt, lease_until + 1) END), count(*), count(*) FILTER (WHERE failures > 0), "
        "coalesce(min(created) FILTER (WHERE failures > 0), 0) FROM tlsfence_tlsrpt_deliveries WHERE state = "
        "'pending'",
        {options_.host, num(options_.pid)}}});
  if (!o.ok || o.rows.empty()) return std::nullopt;
  pending_ = FleetPending{static_cast<std::uint64_t>(as_int(o.rows[0][1])),
                          static_cast<std::uint64_t>(as_int(o.rows[0][2])), as_int(o.rows[0][3])};
  if (!o.rows[0][0]) return std::nullopt;
  return as_int(o.rows[0][0]);
}

}  // namespace tlsfence::rptd
