#pragma once
// A PolicyLookup for door tests: answers from a table, optionally after a delay (on the
// caller's executor), and counts what it was asked and what it finished.
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "async/asio.h"
#include "policy/lookup.h"

namespace tlsfence::testing {

class FakeLookup final : public PolicyLookup {
 public:
  struct Entry {
    PolicyDecision decision;
    std::chrono::milliseconds delay{0};
    bool throws = false;
  };

  void set(const std::string& domain, Entry e) {
    e.decision.domain = domain;
    table_[domain] = std::move(e);
  }
  static PolicyDecision bogus() {
    PolicyDecision d;
    d.verdict = Verdict::temp_fail;
    d.result_type = "dnssec-invalid";
    d.mx_dnssec = DnssecState::bogus;
    d.temp_reason = "DNSSEC validation of MX failed";
    return d;
  }
  static PolicyDecision servfail() {
    PolicyDecision d;
    d.verdict = Verdict::temp_fail;
    d.mx_dnssec = DnssecState::indeterminate;
    d.temp_reason = "SERVFAIL";
    return d;
  }
  static PolicyDecision dane_only() {
    PolicyDecision d;
    d.verdict = Verdict::policy;
    d.source = Source::dane;
    d.level = "dane-only";
    d.mx_dnssec = DnssecState::secure;
    return d;
  }

  Task<PolicyDecision> decide(std::string next_hop) override {
    asked.push_back(next_hop);
    Entry e;
    if (auto it = table_.find(next_hop); it != table_.end()) {
      e = it->second;
    } else {
      e.decision.domain = next_hop;
      e.decision.verdict = Verdict::no_policy;
    }
    if (e.delay.count() > 0) {
      asio::steady_timer t(co_await asio::this_coro::executor);
      t.expires_after(e.delay);
      co_await t.async_wait(asio::use_awaitable);
    }
    if (e.throws) throw std::runtime_error("fake lookup failure");
    finished.push_back(next_hop);
    co_return e.decision;
  }

  std::vector<std::string> asked;
  std::vector<std::string> finished;

 private:
  std::map<std::string, Entry> table_;
};

}  // namespace tlsfence::testing
