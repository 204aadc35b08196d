// The exposition writer against the text format 0.0.4 rules: HELP/TYPE lines, escaping of
// label values and help text, number forms (+Inf, NaN, integers), histogram series
// (cumulative _bucket{le}, +Inf equal to _count, _sum), and the names it refuses.
#include "metrics/exposition.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

namespace tlsfence::metrics {
namespace {

using namespace std::chrono_literals;

TEST(MetricsExposition, CounterFamilyHasHelpTypeAndLabelledSamples) {
  Writer w;
  w.family("tlsfence_socketmap_requests_total", Type::counter, "Socketmap answers by kind.");
  w.sample({{"answer", "OK"}}, std::uint64_t{3});
  w.sample({{"answer", "TEMP"}}, std::uint64_t{0});
  EXPECT_EQ(w.text(),
            "# HELP tlsfence_socketmap_requests_total Socketmap answers by kind.\n"
            "# TYPE tlsfence_socketmap_requests_total counter\n"
            "tlsfence_socketmap_requests_total{answer=\"OK\"} 3\n"
            "tlsfence_socketmap_requests_total{answer=\"TEMP\"} 0\n");
}

TEST(MetricsExposition, GaugeWithoutLabelsAndSeveralLabels) {
  Writer w;
  w.family("tlsfence_cache_entries", Type::gauge, "Entries.");
  w.sample(std::uint64_t{12});
  w.family("tlsfence_build_info", Type::gauge, "Build.");
  w.sample({{"version", "0.1.0"}, {"program", "tlsfenced"}}, std::uint64_t{1});
  EXPECT_NE(w.text().find("\ntlsfence_cache_entries 12\n"), std::string::npos);
  EXPECT_NE(w.text().find("\ntlsfence_build_info{version=\"0.1.0\",program=\"tlsfenced\"} 1\n"),
            std::string::npos);
}

TEST(MetricsExposition, LabelValuesEscapeBackslashQuoteAndNewline) {
  Writer w;
  w.family("m", Type::gauge, "h");
  w.sample({{"l", "a\\b\"c\nd"}}, std::uint64_t{1});
  EXPECT_NE(w.text().find("m{l=\"a\\\\b\\\"c\\nd\"} 1\n"), std::string::npos) << w.text();
}

TEST(MetricsExposition, HelpEscapesBackslashAndNewlineButNotQuotes) {
  Writer w;
  w.family("m", Type::gauge, "a \"q\" \\ b\nc");
  EXPECT_EQ(w.text().substr(0, w.text().find('\n')), "# HELP m a \"q\" \\\\ b\\nc");
}

TEST(MetricsExposition, NumberForms) {
  std::string s;
  append_value(s, std::numeric_limits<double>::infinity());
  s += ' ';
  append_value(s, -std::numeric_limits<double>::infinity());
  s += ' ';
  append_value(s, std::nan(""));
  s += ' ';
  append_value(s, 0.25);
  s += ' ';
  append_value(s, 1e-5);
  s += ' ';
  append_value(s, std::uint64_t{18446744073709551615u});
  EXPECT_EQ(s, "+Inf -Inf NaN 0.25 1e-05 18446744073709551615");
  Writer w;
  w.family("g", Type::gauge, "h");
  w.sample({}, std::int64_t{-7});
  w.sample({{"a", "b"}}, std::numeric_limits<std::int64_t>::min());
  EXPECT_NE(w.text().find("\ng -7\n"), std::string::npos);
  EXPECT_NE(w.text().find("g{a=\"b\"} -9223372036854775808\n"), std::string::npos);
}

TEST(MetricsExposition, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  LatencyHistogram h;
  h.observe(5us);   // first bucket (<= 10 us)
  h.observe(10us);  // on the bound: still the first
  h.observe(3ms);   // <= 0.005
  h.observe(40s);   // above every bound: +Inf only
  const HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.count, 4u);
  EXPECT_NEAR(s.sum, 40.003015, 1e-9);
  Writer w;
  w.family("tlsfence_request_duration_seconds", Type::histogram, "Latency.");
  w.histogram({{"door", "socketmap"}}, s);
  const std::string& t = w.text();
  EXPECT_NE(t.find("tlsfence_request_duration_seconds_bucket{door=\"socketmap\",le=\"1e-05\"} 2\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("_bucket{door=\"socketmap\",le=\"0.0025\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("_bucket{door=\"socketmap\",le=\"0.005\"} 3\n"), std::string::npos);
  EXPECT_NE(t.find("_bucket{door=\"socketmap\",le=\"30\"} 3\n"), std::string::npos);
  EXPECT_NE(t.find("_bucket{door=\"socketmap\",le=\"+Inf\"} 4\n"), std::string::npos);
  EXPECT_NE(t.find("tlsfence_request_duration_seconds_sum{door=\"socketmap\"} 40.003015\n"),
            std::string::npos);
  EXPECT_NE(t.find("tlsfence_request_duration_seconds_count{door=\"socketmap\"} 4\n"), std::string::npos);
  // Buckets never decrease, in the order written.
  std::uint64_t last = 0;
  for (std::size_t pos = t.find("_bucket{"); pos != std::string::npos; pos = t.find("_bucket{", pos + 1)) {
    const std::uint64_t v = std::stoull(t.substr(t.find("} ", pos) + 2));
    EXPECT_GE(v, last);
    last = v;
  }
  EXPECT_EQ(last, 4u);
}

TEST(MetricsExposition, RefusesBadNamesAndMisuse) {
  Writer w;
  EXPECT_THROW(w.family("1abc", Type::gauge, "h"), std::logic_error);
  EXPECT_THROW(w.family("a-b", Type::gauge, "h"), std::logic_error);
  EXPECT_THROW(w.family("", Type::gauge, "h"), std::logic_error);
  EXPECT_THROW(w.sample(std::uint64_t{1}), std::logic_error);  // no family yet
  w.family("ns:sub_name", Type::counter, "colons are allowed in metric names");
  EXPECT_THROW(w.family("ns:sub_name", Type::gauge, "h"), std::logic_error);  // twice
  EXPECT_THROW(w.sample({{"__reserved", "x"}}, std::uint64_t{1}), std::logic_error);
  EXPECT_THROW(w.sample({{"a:b", "x"}}, std::uint64_t{1}), std::logic_error);
  EXPECT_THROW(w.histogram({}, HistogramSnapshot{}), std::logic_error);  // counter family
  w.family("h_seconds", Type::histogram, "h");
  EXPECT_THROW(w.sample(std::uint64_t{1}), std::logic_error);
  EXPECT_THROW(w.histogram({{"le", "1"}}, HistogramSnapshot{}), std::logic_error);
  EXPECT_TRUE(valid_label_name("answer"));
  EXPECT_FALSE(valid_label_name("__x"));
  EXPECT_TRUE(valid_metric_name("tlsfence_cache_entries"));
}

TEST(MetricsExposition, RegistryRendersCollectorsInOrder) {
  Registry r;
  Counter c;
  c.inc(2);
  r.add([&c](Writer& w) {
    w.family("a_total", Type::counter, "A.");
    w.sample(c.value());
  });
  r.add([](Writer& w) {
    w.family("b", Type::gauge, "B.");
    w.sample(std::uint64_t{1});
  });
  const std::string t = r.render();
  EXPECT_LT(t.find("a_total 2"), t.find("b 1"));
  EXPECT_EQ(t.back(), '\n');
}

TEST(MetricsValues, CountersAreExactUnderConcurrentUpdates) {
  CounterArray<4> answers;
  LatencyHistogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100000; ++i) {
        answers.inc(static_cast<std::size_t>(t));
        h.observe(1us);
      }
    });
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(answers.value(i), 100000u);
  answers.inc(99);  // out of range: ignored, no crash
  EXPECT_EQ(answers.value(99), 0u);
  EXPECT_EQ(h.snapshot().count, 400000u);
  EXPECT_EQ(h.snapshot().cumulative[0], 400000u);
}

}  // namespace
}  // namespace tlsfence::metrics
