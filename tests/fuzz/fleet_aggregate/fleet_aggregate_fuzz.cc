// Fuzz target: one host's TLS-RPT aggregates as the fleet's PostgreSQL holds them
// (tlsrpt/aggregate_codec.h), text another program wrote. Invariants: nothing throws; an
// accepted row encodes and decodes back to the same aggregates; merging it into itself doubles
// every count and keeps the policies and details (no new groups, nothing lost).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tlsrpt/aggregate_codec.h"

namespace {

bool same(const std::vector<tlsfence::tlsrpt::PolicyAggregate>& a,
          const std::vector<tlsfence::tlsrpt::PolicyAggregate>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!(a[i].policy == b[i].policy) || a[i].successful_sessions != b[i].successful_sessions ||
        a[i].failed_sessions != b[i].failed_sessions || a[i].failures.size() != b[i].failures.size())
      return false;
    for (std::size_t k = 0; k < a[i].failures.size(); ++k) {
      const auto &x = a[i].failures[k], &y = b[i].failures[k];
      if (x.result != y.result || x.sending_mta_ip != y.sending_mta_ip ||
          x.receiving_mx_hostname != y.receiving_mx_hostname || x.receiving_mx_helo != y.receiving_mx_helo ||
          x.receiving_ip != y.receiving_ip || x.failure_reason_code != y.failure_reason_code ||
          x.additional_information != y.additional_information ||
          x.failed_session_count != y.failed_session_count)
        return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tlsfence::tlsrpt;
  const std::string in(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto decoded = aggregates_from_json(in, error);
  if (!decoded) {
    if (error.empty()) std::abort();  // a refusal always says why
    return 0;
  }
  const std::string text = aggregates_to_json(*decoded);
  const auto again = aggregates_from_json(text, error);
  // Strings that were not UTF-8 are replaced on encoding: then only the second round is exact.
  if (!again) std::abort();
  const auto third = aggregates_from_json(aggregates_to_json(*again), error);
  if (!third || !same(*again, *third)) std::abort();
  auto doubled = *again;
  merge_aggregates(doubled, *again);
  // Equal policies within one host's list are already one group only if the writer merged
  // them; a foreign row may repeat one, so only the totals are checked.
  if (total_sessions(doubled) != 2 * total_sessions(*again)) std::abort();
  return 0;
}
