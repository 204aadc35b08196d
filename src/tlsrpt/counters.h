#pragma once
// The sidecar's event counters, for tlsfence-rptd's metrics listener: one process-wide set
// (like a Prometheus client's default registry), so the store, the report builder and the
// delivery code count where the event happens without a counters object threaded through
// every constructor. Relaxed atomics: counting never locks or waits. The CLI counts too and
// never reads them.
#include <cstddef>

#include "metrics/metric.h"
#include "tlsfence/tlsrpt_result.h"

namespace tlsfence::tlsrpt {

struct Counters {
  static constexpr std::size_t kResults = 11;  // TlsrptResult values
  metrics::Counter outcomes_success;           // sessions stored (Store::add)
  metrics::Counter outcomes_failure;
  metrics::CounterArray<kResults> failures;  // failed sessions by result type (index: TlsrptResult)
  metrics::Counter datagrams_accepted;       // parsed datagrams (tlsfence-rptd)
  metrics::Counter rejected_datagrams;       // Store::add_rejected with source "datagram"
  metrics::Counter rejected_other;           // … any other source
  metrics::Counter reports_built;            // report files written (write_report)
  // Delivery attempts: [scheme: 0 mailto, 1 https, 2 other][0 ok, 1 failure]
  metrics::CounterArray<6> attempts;
  void attempt(std::string_view rua, bool ok) {
    const std::size_t scheme = rua.starts_with("mailto:") ? 0 : rua.starts_with("https:") ? 1 : 2;
    attempts.inc(scheme * 2 + (ok ? 0 : 1));
  }
};

inline Counters& counters() {
  static Counters c;
  return c;
}

}  // namespace tlsfence::tlsrpt
