// FleetReports, the upload half and the reading of the fleet's aggregates (see fleet_reports.h).
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "rptd/fleet_json.h"
#include "rptd/fleet_reports.h"
#include "tlsrpt/aggregate_codec.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"  // g++ 12 false positive in nlohmann (GCC bug 105329)
#endif

namespace tlsfence::rptd {

FleetOptions fleet_options(const std::string& host) {
  FleetOptions o;
  o.host = host;
  o.pid = static_cast<std::int64_t>(::getpid());
  auto seconds = [](const char* name, std::chrono::seconds fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::chrono::seconds(std::max(1LL, std::atoll(v))) : fallback;
  };
  o.lease = seconds("TLSFENCE_FLEET_LEASE", o.lease);
  o.wait_for_hosts = seconds("TLSFENCE_FLEET_WAIT", o.wait_for_hosts);
  return o;
}

std::vector<std::string> lagging_hosts(const std::vector<HostUpload>& hosts, std::int64_t day,
                                       std::chrono::seconds margin) {
  const std::int64_t begin = day * 86400, end = begin + 86400;
  std::vector<std::string> out;
  for (const auto& h : hosts) {
    if (h.last_upload < begin) continue;  // not seen since before the day: not waited for
    if (h.uploaded_through < end + margin.count()) out.push_back(h.host);
  }
  std::sort(out.begin(), out.end());
  return out;
}

FleetReports::FleetReports(fleet::FleetClient& client, tlsrpt::Store& local, const Clock& clock,
                           DeliveryOptions delivery, FleetOptions options)
    : client_(client),
      local_(local),
      clock_(clock),
      delivery_(std::move(delivery)),
      options_(std::move(options)) {}

std::int64_t FleetReports::now() const {
  return std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
}

fleet::Outcome FleetReports::call(std::vector<fleet::Statement> statements) {
  return client_.call(std::move(statements), options_.timeout);
}

FleetReports::Batch FleetReports::prepare_upload() {
  Batch b;
  const std::int64_t snapshot = now();  // everything committed before it is in the read below
  b.rows = local_.pending_uploads(options_.upload_batch);
  const bool complete = b.rows.size() < options_.upload_batch;
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& p : b.rows) {
    rows.push_back({{"day", p.day},
                    {"domain", json_text(p.policy_domain)},
                    {"agg", tlsrpt::aggregates_to_json(p.policies)},
                    {"sessions", tlsrpt::total_sessions(p.policies)}});
    std::uint64_t ok = 0, fail = 0;
    for (const auto& a : p.policies) {
      ok += a.successful_sessions;
      fail += a.failed_sessions;
    }
    rows.back()["ok"] = ok;
    rows.back()["fail"] = fail;
  }
  const std::string host = options_.host, at = std::to_string(snapshot);
  // The mark: uploaded_through moves only when this batch holds every marked row.
  fleet::Statement mark{
      "INSERT INTO tlsfence_tlsrpt_uploads (host, uploaded_through, last_upload, pending) "
      "VALUES ($1, $2, $3, $4) ON CONFLICT (host) DO UPDATE SET uploaded_through = "
      "GREATEST(tlsfence_tlsrpt_uploads.uploaded_through, EXCLUDED.uploaded_through), "
      "last_upload = EXCLUDED.last_upload, pending = EXCLUDED.pending",
      {host, complete ? at : "0", at, std::to_string(complete ? 0 : b.rows.size())}};
  if (b.rows.empty()) {
    b.statements.push_back(std::move(mark));
    return b;
  }
  b.statements.push_back({"BEGIN", {}});
  // Absolute counts: a snapshot older than the stored one (fewer sessions) never replaces it.
  b.statements.push_back(
      {"INSERT INTO tlsfence_tlsrpt_outcomes (day, domain, host, format, aggregate, sessions, successes, "
       "failures, uploaded_at) SELECT (e->>'day')::bigint, e->>'domain', $1, 1, e->>'agg', "
       "(e->>'sessions')::bigint, (e->>'ok')::bigint, (e->>'fail')::bigint, $2 "
       "FROM json_array_elements($3::json) e ON CONFLICT (day, domain, host) DO UPDATE SET "
       "format = EXCLUDED.format, aggregate = EXCLUDED.aggregate, sessions = EXCLUDED.sessions, "
       "successes = EXCLUDED.successes, failures = EXCLUDED.failures, uploaded_at = EXCLUDED.uploaded_at "
       "WHERE tlsfence_tlsrpt_outcomes.sessions <= EXCLUDED.sessions",
       {host, at, json_dump(rows)}});
  b.statements.push_back(std::move(mark));
  b.statements.push_back({"COMMIT", {}});
  return b;
}

UploadResult FleetReports::upload() {
  UploadResult r;
  for (;;) {
    Batch b = prepare_upload();
    const fleet::Outcome o = call(b.statements);
    if (!o.ok) {
      r.ok = false;
      r.error = o.error;
      r.remaining = local_.pending_upload_count();
      return r;
    }
    uploaded(b);
    r.uploaded += b.rows.size();
    if (b.rows.size() < options_.upload_batch) break;
  }
  r.remaining = local_.pending_upload_count();
  return r;
}

std::optional<std::map<std::string, std::vector<tlsrpt::PolicyAggregate>>> FleetReports::day_aggregates(
    std::int64_t day, const std::vector<std::string>& domains, std::ostream& warnings, std::string& error) {
  std::string sql = "SELECT domain, host, format, aggregate FROM tlsfence_tlsrpt_outcomes WHERE day = $1";
  std::vector<fleet::Value> params{std::to_string(day)};
  if (!domains.empty()) {
    sql += " AND domain IN (SELECT json_array_elements_text($2::json))";
    nlohmann::json list = nlohmann::json::array();
    for (const auto& d : domains) list.push_back(json_text(d));
    params.push_back(json_dump(list));
  }
  sql += " ORDER BY domain, host";
  const fleet::Outcome o = call({{sql, params}});
  if (!o.ok) {
    error = o.error;
    return std::nullopt;
  }
  std::map<std::string, std::vector<tlsrpt::PolicyAggregate>> out;
  for (const auto& row : o.rows) {
    if (row.size() < 4 || !row[0] || !row[1] || !row[2] || !row[3]) continue;
    const std::string where = "host " + *row[1] + ", day " + tlsrpt::day_string(day) + ", domain " + *row[0];
    if (*row[2] != "1") {
      warnings << "fleet outcomes of " << where << ": row format " << *row[2]
               << " is newer than this program's 1 (a newer tlsfence wrote it): left out\n";
      continue;
    }
    std::string why;
    auto policies = tlsrpt::aggregates_from_json(*row[3], why);
    if (!policies) {
      warnings << "fleet outcomes of " << where << " do not decode (" << why << "): left out\n";
      continue;
    }
    tlsrpt::merge_aggregates(out[*row[0]], *policies);
  }
  return out;
}

}  // namespace tlsfence::rptd
