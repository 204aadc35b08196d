// The Prometheus text format 0.0.4 writer (see exposition.h).
#include "metrics/exposition.h"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace tlsfence::metrics {
namespace {

bool name_char(char c, bool first, bool colon) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
  return alpha || (!first && c >= '0' && c <= '9');
}

bool valid_name(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, colon)) return false;
  return true;
}

std::string_view type_name(Type t) {
  switch (t) {
    case Type::counter: return "counter";
    case Type::gauge: return "gauge";
    case Type::histogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

bool valid_metric_name(std::string_view name) {
  return valid_name(name, true);
}

bool valid_label_name(std::string_view name) {
  return valid_name(name, false) && !name.starts_with("__");
}

void escape_label_value(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void escape_help(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void append_value(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec != std::errc()) {
    out += "NaN";
    return;
  }
  out.append(buf, end);
}

void append_value(std::string& out, std::uint64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  (void)ec;  // 24 bytes always hold a uint64
  out.append(buf, end);
}

void Writer::family(std::string_view name, Type type, std::string_view help) {
  if (!valid_metric_name(name)) throw std::logic_error("bad metric name: " + std::string(name));
  if (!seen_.emplace(name).second) throw std::logic_error("metric family given twice: " + std::string(name));
  name_.assign(name);
  type_ = type;
  open_ = true;
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  escape_help(out_, help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type_name(type);
  out_ += '\n';
}

void Writer::expect(Type type) const {
  if (!open_) throw std::logic_error("metric sample outside a family");
  const bool histogram = type == Type::histogram;
  if (histogram != (type_ == Type::histogram))
    throw std::logic_error("metric " + name_ + ": sample of the wrong kind for its type");
}

void Writer::series(std::string_view suffix, Labels labels, const Label* extra) {
  out_ += name_;
  out_ += suffix;
  if (labels.size() == 0 && extra == nullptr) {
    out_ += ' ';
    return;
  }
  out_ += '{';
  bool first = true;
  auto put = [&](const Label& l) {
    if (!valid_label_name(l.name) || (extra != &l && l.name == "le" && type_ == Type::histogram))
      throw std::logic_error("metric " + name_ + ": bad label name " + std::string(l.name));
    if (!first) out_ += ',';
    first = false;
    out_ += l.name;
    out_ += "=\"";
    escape_label_value(out_, l.value);
    out_ += '"';
  };
  for (const Label& l : labels) put(l);
  if (extra != nullptr) put(*extra);
  out_ += "} ";
}

void Writer::sample(Labels labels, double value) {
  expect(Type::counter);
  series("", labels, nullptr);
  append_value(out_, value);
  out_ += '\n';
}

void Writer::sample(Labels labels, std::uint64_t value) {
  expect(Type::counter);
  series("", labels, nullptr);
  append_value(out_, value);
  out_ += '\n';
}

void Writer::sample(Labels labels, std::int64_t value) {
  expect(Type::counter);
  series("", labels, nullptr);
  if (value < 0) {
    out_ += '-';
    append_value(out_, static_cast<std::uint64_t>(-(value + 1)) + 1);
  } else {
    append_value(out_, static_cast<std::uint64_t>(value));
  }
  out_ += '\n';
}

void Writer::histogram(Labels labels, const HistogramSnapshot& h) {
  expect(Type::histogram);
  std::string le;
  for (std::size_t i = 0; i < h.bounds.size() && i < h.cumulative.size(); ++i) {
    le.clear();
    append_value(le, h.bounds[i]);
    const Label bucket{"le", le};
    series("_bucket", labels, &bucket);
    append_value(out_, h.cumulative[i]);
    out_ += '\n';
  }
  const Label inf{"le", "+Inf"};
  series("_bucket", labels, &inf);
  append_value(out_, h.count);
  out_ += '\n';
  series("_sum", labels, nullptr);
  append_value(out_, h.sum);
  out_ += '\n';
  series("_count", labels, nullptr);
  append_value(out_, h.count);
  out_ += '\n';
}

std::string Registry::render() const {
  Writer w;
  for (const Collector& c : collectors_) c(w);
  return w.take();
}

}  // namespace tlsfence::metrics
