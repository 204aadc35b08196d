#pragma once
// The Prometheus text exposition format, version 0.0.4 (what `GET /metrics` answers):
//
//   # HELP name text            (text: '\' and newline escaped)
//   # TYPE name counter|gauge|histogram
//   name{label="value",...} 42  (value: '\', '"' and newline escaped)
//   name_bucket{le="0.005"} 3 … name_bucket{le="+Inf"} 7, name_sum 0.02, name_count 7
//
// Writer emits one family at a time (HELP and TYPE first, then its samples, never split);
// Registry holds the programs' collectors and renders them in registration order.
// Metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* and do not
// start with "__"; `le` is reserved for histogram buckets. A bad name, a sample outside a
// family or a family given twice is a programming error: std::logic_error.
// Values: integers as written, other numbers in the shortest form that reads back the same,
// +Inf, -Inf, NaN.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/metric.h"

namespace tlsfence::metrics {

// The Content-Type of an exposition.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class Type { counter, gauge, histogram };

struct Label {
  std::string_view name;
  std::string_view value;
};
using Labels = std::initializer_list<Label>;

bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);
void escape_label_value(std::string& out, std::string_view value);
void escape_help(std::string& out, std::string_view help);
void append_value(std::string& out, double value);
void append_value(std::string& out, std::uint64_t value);

class Writer {
 public:
  // Starts family `name`. Throws std::logic_error on a bad name or a family given twice.
  void family(std::string_view name, Type type, std::string_view help);
  // A counter or gauge sample of the current family.
  void sample(Labels labels, double value);
  void sample(Labels labels, std::uint64_t value);
  void sample(Labels labels, std::int64_t value);
  void sample(std::uint64_t value) { sample({}, value); }
  // The buckets, _sum and _count of the current (histogram) family.
  void histogram(Labels labels, const HistogramSnapshot& h);

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void series(std::string_view suffix, Labels labels, const Label* extra);
  void expect(Type type) const;

  std::string out_;
  std::string name_;
  Type type_ = Type::gauge;
  bool open_ = false;
  std::set<std::string, std::less<>> seen_;
};

class Registry {
 public:
  using Collector = std::function<void(Writer&)>;
  void add(Collector c) { collectors_.push_back(std::move(c)); }
  // Runs every collector in order. A collector's exception propagates (the HTTP layer
  // answers 500).
  std::string render() const;

 private:
  std::vector<Collector> collectors_;
};

}  // namespace tlsfence::metrics
