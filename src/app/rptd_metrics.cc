// tlsfence-rptd's metrics (see rptd_metrics.h).
#include "app/rptd_metrics.h"

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <memory>

#include "fleet/client.h"
#include "rptd/fleet_reports.h"
#include "tlsrpt/counters.h"

namespace tlsfence {
namespace {

using metrics::Type;
using metrics::Writer;

void write_counters(Writer& w) {
  const tlsrpt::Counters& c = tlsrpt::counters();
  w.family("tlsfence_rptd_outcomes_total", Type::counter,
           "TLS session outcomes stored for reports: success or failure.");
  w.sample({{"result", "success"}}, c.outcomes_success.value());
  w.sample({{"result", "failure"}}, c.outcomes_failure.value());
  w.family("tlsfence_rptd_failures_total", Type::counter,
           "Failed TLS sessions stored, by RFC 8460 result type.");
  for (std::size_t i = 0; i < tlsrpt::Counters::kResults; ++i)
    w.sample({{"result_type", to_string(static_cast<TlsrptResult>(i))}}, c.failures.value(i));
  w.family(
      "tlsfence_rptd_datagrams_total", Type::counter,
      "libtlsrpt datagrams received: accepted, or rejected (malformed; kept in tlsrpt.db for inspection).");
  w.sample({{"result", "accepted"}}, c.datagrams_accepted.value());
  w.sample({{"result", "rejected"}}, c.rejected_datagrams.value());
  w.family("tlsfence_rptd_reports_built_total", Type::counter, "Daily reports written to the outbox.");
  w.sample(c.reports_built.value());
  w.family("tlsfence_rptd_delivery_attempts_total", Type::counter,
           "Report delivery attempts by rua scheme (mailto, https) and result (ok, failure).");
  constexpr const char* kSchemes[] = {"mailto", "https", "other"};
  for (std::size_t s = 0; s < 3; ++s) {
    w.sample({{"scheme", kSchemes[s]}, {"result", "ok"}}, c.attempts.value(s * 2));
    w.sample({{"scheme", kSchemes[s]}, {"result", "failure"}}, c.attempts.value(s * 2 + 1));
  }
}

// A single host's from tlsrpt.db; a fleet's (`fleet`) as its report job last read them.
void write_deliveries(Writer& w, tlsrpt::Store* store, const std::optional<rptd::FleetPending>& fleet) {
  std::uint64_t pending = 0, retries = 0;
  std::int64_t oldest = 0;  // created time of the oldest pending retry
  if (fleet) {
    pending = fleet->pending;
    retries = fleet->retries;
    oldest = fleet->oldest_retry_created;
  } else if (store != nullptr) {
    for (const tlsrpt::Delivery& d : store->deliveries()) {
      if (d.state != tlsrpt::DeliveryState::pending) continue;
      ++pending;
      if (d.failures == 0) continue;
      ++retries;
      oldest = oldest == 0 ? d.created : std::min(oldest, d.created);
    }
  }
  w.family("tlsfence_rptd_deliveries_pending", Type::gauge, "Report deliveries not yet done nor given up.");
  w.sample(pending);
  w.family("tlsfence_rptd_pending_retries", Type::gauge, "Pending deliveries that failed at least once.");
  w.sample(retries);
  w.family("tlsfence_rptd_oldest_pending_retry_age_seconds", Type::gauge,
           "Age of the oldest pending retry since its delivery was planned (0: none); given up after 24 h.");
  const std::int64_t age = oldest == 0 ? 0 : std::max<std::int64_t>(0, std::time(nullptr) - oldest);
  w.sample({}, age);
}

}  // namespace

void add_rptd_metrics(MetricsListener& listener, RptdParts parts) {
  auto p = std::make_shared<RptdParts>(std::move(parts));
  listener.registry().add([p](Writer& w) {
    w.family("tlsfence_rptd_lines_read_total", Type::counter, "MTA log lines read, by source.");
    for (const auto& [source, n] : p->lines()) w.sample({{"source", source}}, n);
    write_counters(w);
    write_deliveries(w, p->store(), p->fleet_pending ? p->fleet_pending() : std::nullopt);
    if (const fleet::FleetClient* c = p->fleet ? p->fleet() : nullptr; c != nullptr) {
      w.family("tlsfence_rptd_fleet_uploads_pending", Type::gauge,
               "(day, domain) aggregates in tlsrpt.db not yet uploaded to the fleet database.");
      tlsrpt::Store* store = p->store();
      w.sample(store != nullptr ? store->pending_upload_count() : 0);
    }
  });
  listener.add_health([p](std::vector<std::string>& out) {
    if (const std::string why = p->store_error(); !why.empty())
      out.push_back("outcome store unwritable: " + why);
    if (const fleet::FleetClient* c = p->fleet ? p->fleet() : nullptr; c != nullptr && !c->connected())
      out.push_back("fleet database unreachable (outcomes kept in tlsrpt.db until it is back)");
    if (!p->datagram_socket.empty()) {
      struct stat st {};
      if (::lstat(p->datagram_socket.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode))
        out.push_back("datagram socket " + p->datagram_socket + " is gone");
    }
  });
}

}  // namespace tlsfence
