#pragma once
// The metric values the programs keep: counters, gauges and latency histograms, lock-free.
//
// Every update is one relaxed atomic operation on a value the updating thread rarely shares
// (a door's counters live in the door, updated on the io thread), so the request path never
// takes a lock or waits for another thread; a scrape reads them with relaxed loads (a value
// may lag by an update, never tear). Label sets are fixed at compile time: a labelled counter
// is an array indexed by an enum, so counting never looks a label value up.
//
// Standard library only: the doors include this without pulling in the HTTP server.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

namespace tlsfence::metrics {

class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// N counters of one family, one per value of a label (index = the enum's value).
template <std::size_t N>
class CounterArray {
 public:
  void inc(std::size_t index, std::uint64_t n = 1) {
    if (index < N) values_[index].fetch_add(n, std::memory_order_relaxed);
  }
  std::uint64_t value(std::size_t index) const {
    return index < N ? values_[index].load(std::memory_order_relaxed) : 0;
  }
  static constexpr std::size_t size() { return N; }

 private:
  std::array<std::atomic<std::uint64_t>, N> values_{};
};

class Gauge {
 public:
  void set(std::int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// What a scrape reads of a histogram: cumulative bucket counts (bucket i counts observations
// <= bounds[i] seconds), the +Inf bucket being `count`.
struct HistogramSnapshot {
  std::span<const double> bounds;  // upper bounds in seconds, ascending
  std::array<std::uint64_t, 24> cumulative{};
  std::uint64_t count = 0;
  double sum = 0;  // seconds
};

// Request latencies in seconds. Fixed buckets (kLatencyBounds: 10 µs .. 30 s); an observation
// is a compare per bucket below it (a cache hit stops at the first) and two relaxed adds.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 20> kLatencyBounds = {
      0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
      0.025,   0.05,     0.1,     0.25,   0.5,     1,      2.5,   5,      10,    30};

  void observe(std::chrono::steady_clock::duration d) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    const std::uint64_t v = ns < 0 ? 0 : static_cast<std::uint64_t>(ns);
    std::size_t i = 0;
    while (i < kBoundsNs.size() && v > kBoundsNs[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(v, std::memory_order_relaxed);
  }

  HistogramSnapshot snapshot() const {
    HistogramSnapshot s;
    s.bounds = kLatencyBounds;
    std::uint64_t running = 0;
    for (std::size_t i = 0; i < kLatencyBounds.size(); ++i) {
      running += buckets_[i].load(std::memory_order_relaxed);
      s.cumulative[i] = running;
    }
    s.count = running + buckets_[kLatencyBounds.size()].load(std::memory_order_relaxed);
    s.sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    return s;
  }

 private:
  static constexpr std::array<std::uint64_t, 20> kBoundsNs = {
      10'000,      25'000,        50'000,        100'000,       250'000,        500'000,       1'000'000,
      2'500'000,   5'000'000,     10'000'000,    25'000'000,    50'000'000,     100'000'000,   250'000'000,
      500'000'000, 1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000, 30'000'000'000};
  std::array<std::atomic<std::uint64_t>, 21> buckets_{};  // per bucket (not cumulative), last: +Inf
  std::atomic<std::uint64_t> sum_ns_{0};
};

}  // namespace tlsfence::metrics
