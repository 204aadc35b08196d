// RFC 8461 §3.2 policy checker for the differential fuzz target: see rfc8461_abnf.h.
#include "rfc8461_abnf.h"

#include <string>
#include <vector>

namespace tlsfence::fuzz {
namespace {

bool alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool digit(char c) {
  return c >= '0' && c <= '9';
}
bool wsp(char c) {
  return c == ' ' || c == '\t';
}
unsigned char u8(std::string_view s, std::size_t i) {
  return static_cast<unsigned char>(s[i]);
}

// RFC 3629 §4: the length of the UTF8-2/3/4 sequence at s[i], or 0.
std::size_t utf8_multibyte(std::string_view s, std::size_t i) {
  auto tail = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return k < s.size() && u8(s, k) >= lo && u8(s, k) <= hi;
  };
  const unsigned c = u8(s, i);
  if (c >= 0xC2 && c <= 0xDF) return tail(i + 1) ? 2 : 0;
  if (c == 0xE0) return tail(i + 1, 0xA0, 0xBF) && tail(i + 2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return tail(i + 1) && tail(i + 2) ? 3 : 0;
  if (c == 0xED) return tail(i + 1, 0x80, 0x9F) && tail(i + 2) ? 3 : 0;
  if (c == 0xF0) return tail(i + 1, 0x90, 0xBF) && tail(i + 2) && tail(i + 3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return tail(i + 1) && tail(i + 2) && tail(i + 3) ? 4 : 0;
  if (c == 0xF4) return tail(i + 1, 0x80, 0x8F) && tail(i + 2) && tail(i + 3) ? 4 : 0;
  return 0;
}

// The length of the sts-policy-vchar at v[i], or 0.
std::size_t vchar(std::string_view v, std::size_t i) {
  if (u8(v, i) >= 0x21 && u8(v, i) <= 0x7E) return 1;
  return utf8_multibyte(v, i);
}

// ext-value = vchar [*(%x20 / vchar) vchar]
bool ext_value(std::string_view v) {
  if (v.empty() || v.back() == ' ') return false;
  for (std::size_t i = 0; i < v.size();) {
    if (v[i] == ' ' && i > 0) {
      ++i;
      continue;
    }
    const std::size_t n = vchar(v, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool ext_name(std::string_view k) {
  if (k.empty() || k.size() > 32 || !(alpha(k[0]) || digit(k[0]))) return false;
  for (char c : k) {
    if (!alpha(c) && !digit(c) && c != '_' && c != '-' && c != '.') return false;
  }
  return true;
}

// RFC 5321 Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str].
bool domain(std::string_view d) {
  if (d.empty() || d.size() > 253) return false;
  std::size_t start = 0;
  bool last_all_digits = false;
  while (true) {
    const std::size_t dot = d.find('.', start);
    const std::string_view label = d.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    last_all_digits = true;
    for (char c : label) {
      if (!alpha(c) && !digit(c) && c != '-') return false;
      if (!digit(c)) last_all_digits = false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return !last_all_digits;
}

struct Field {
  std::string_view name, value;  // value without field-delim's and the trailing *WSP
};

// One line (without its terminator) as `name ":" *WSP value *WSP`, or false.
bool split_field(std::string_view line, Field& f) {
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  f.name = line.substr(0, colon);
  std::string_view v = line.substr(colon + 1);
  while (!v.empty() && wsp(v.front())) v.remove_prefix(1);
  while (!v.empty() && wsp(v.back())) v.remove_suffix(1);
  f.value = v;
  return ext_name(f.name);  // every field name (version, mode, …) is also an ext-name
}

}  // namespace

bool rfc8461_policy_valid(std::string_view body, std::size_t mx_max) {
  // sts-policy-record: fields separated by LF / CRLF, one optional terminator at the end.
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < body.size()) {
    const std::size_t lf = body.find('\n', start);
    std::string_view line = body.substr(start, lf == std::string_view::npos ? lf : lf - start);
    if (lf != std::string_view::npos && !line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (lf == std::string_view::npos) break;
    start = lf + 1;
  }
  if (lines.empty()) return false;

  bool have_version = false, have_mode = false, have_max_age = false;
  std::string mode;
  std::size_t mx = 0;
  for (std::string_view line : lines) {
    Field f;
    if (!split_field(line, f)) return false;
    if (f.name == "mx") {
      std::string_view d = f.value;
      if (d.substr(0, 2) == "*.") d.remove_prefix(2);
      if (!domain(d) || ++mx > mx_max) return false;
    } else if (f.name == "version" && !have_version) {
      if (f.value != "STSv1") return false;
      have_version = true;
    } else if (f.name == "mode" && !have_mode) {
      if (f.value != "testing" && f.value != "enforce" && f.value != "none") return false;
      mode = f.value;
      have_mode = true;
    } else if (f.name == "max_age" && !have_max_age) {
      if (f.value.empty() || f.value.size() > 10) return false;
      for (char c : f.value) {
        if (!digit(c)) return false;
      }
      have_max_age = true;
    } else if (!ext_value(f.value)) {
      return false;
    }
  }
  return have_version && have_mode && have_max_age && (mode == "none" || mx > 0);
}

}  // namespace tlsfence::fuzz
