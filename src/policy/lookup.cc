// PolicyLookup's default decide_shared() (policy/lookup.h), out of line so the
// coroutine frame is compiled once, here.
#include "policy/lookup.h"

// g++ 12 at -O2 reports a false -Wmismatched-new-delete inside Asio's coroutine frame
// allocator (thread_info_base.hpp).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace tlsfence {

Task<std::shared_ptr<const PolicyDecision>> PolicyLookup::decide_shared(std::string next_hop) {
  PolicyDecision d = co_await decide(std::move(next_hop));
  co_return std::make_shared<const PolicyDecision>(std::move(d));
}

}  // namespace tlsfence
