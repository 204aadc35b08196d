#pragma once
// Test doubles for the report job: a settable clock, and a Transport whose record lookups and
// sends are scripted (a.example publishes a record with a mailto: and an https: rua, every other
// domain none, unless `answers` says otherwise) and recorded.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "rptd/delivery.h"
#include "tlsfence/clock.h"

namespace tlsfence::rptd {

inline constexpr const char* web = "https://r.a.example/report";
inline constexpr const char* mail = "mailto:tlsrpt@a.example";

struct FakeClock final : Clock {
  std::int64_t t = 0;
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(t));
  }
};

struct FakeTransport final : Transport {
  std::size_t lookups = 0;
  // uri → outcome of the n-th send to it (0-based); default: success
  std::function<SendResult(const std::string& uri, int n)> behaviour = [](const std::string&, int) {
    return SendResult{true, "HTTP status 200"};
  };
  std::map<std::string, std::vector<std::int64_t>> sends;   // uri → send times
  std::map<std::string, std::vector<std::string>> reports;  // uri → report JSON sent

  // domain → answer of its n-th lookup (0-based); default: a.example valid, others none
  std::map<std::string, std::function<RecordAnswer(int n)>> answers;
  std::map<std::string, std::vector<std::int64_t>> lookup_times;
  const FakeClock* clock = nullptr;
  std::set<std::string> answered_none;  // these must never be sent a report

  std::vector<RecordAnswer> records(const std::vector<std::string>& domains) override {
    std::vector<RecordAnswer> out;
    for (const auto& domain : domains) {
      ++lookups;
      auto& times = lookup_times[domain];
      times.push_back(clock ? clock->t : 0);
      if (auto it = answers.find(domain); it != answers.end()) {
        out.push_back(it->second(static_cast<int>(times.size()) - 1));
      } else if (domain == "a.example") {
        out.push_back({tlsrpt::RecordState::valid, std::string("v=TLSRPTv1; rua=") + mail + "," + web});
      } else {
        out.push_back({tlsrpt::RecordState::none, "no TLSRPTv1 record"});
      }
    }
    for (std::size_t i = 0; i < domains.size(); ++i)
      if (out[i].state == tlsrpt::RecordState::none) answered_none.insert(domains[i]);
    return out;
  }
  SendResult send(const parse::TlsrptRua& rua, const tlsrpt::BuiltReport& report, std::int64_t now) override {
    EXPECT_FALSE(report.gzip.empty());
    EXPECT_FALSE(answered_none.count(report.policy_domain)) << report.policy_domain << " has no valid record";
    EXPECT_NE(report.json.find("\"" + report.policy_domain + "\""), std::string::npos);
    auto& times = sends[rua.uri];
    times.push_back(now);
    reports[rua.uri].push_back(report.json);
    return behaviour(rua.uri, static_cast<int>(times.size()) - 1);
  }
};

}  // namespace tlsfence::rptd
