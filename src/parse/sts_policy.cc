// MTA-STS policy parser (RFC 8461 §3.2); see sts_policy.h for the grammar decisions.
#include "parse/sts_policy.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "parse/domain.h"
#include "tlsfence/limits.h"

#include "parse/ascii.h"

namespace tlsfence::parse {
namespace {

using ascii::consume;
using ascii::is_alnum;
using ascii::is_alpha;
using ascii::is_digit;
using ascii::is_wsp;

// Length of the UTF-8 sequence starting at s[i] (RFC 3629 UTF8-2/3/4), 0 when invalid.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](std::size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  unsigned char c = b(i);
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(i + 1) > 0x9F) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xF0 && b(i + 1) < 0x90) return 0;
    if (c == 0xF4 && b(i + 1) > 0x8F) return 0;
    return 4;
  }
  return 0;
}

// sts-policy-ext-value = sts-policy-vchar [*(%x20 / sts-policy-vchar) sts-policy-vchar]
// (the caller has already removed the trailing *WSP).
bool is_ext_value(std::string_view v) {
  if (v.empty() || v.front() == ' ' || v.back() == ' ') return false;
  for (std::size_t i = 0; i < v.size();) {
    auto c = static_cast<unsigned char>(v[i]);
    if (c == 0x20 || (c >= 0x21 && c <= 0x7E)) {
      ++i;
      continue;
    }
    std::size_t n = c >= 0x80 ? utf8_sequence(v, i) : 0;
    if (n == 0) return false;
    i += n;
  }
  return true;
}

struct Line {
  std::string_view text;  // without its terminator
  std::size_t number;
};

std::vector<Line> split_lines(std::string_view body) {
  std::vector<Line> lines;
  std::size_t start = 0;
  std::size_t number = 1;
  while (start < body.size()) {
    std::size_t nl = body.find('\n', start);
    std::size_t end = nl == std::string_view::npos ? body.size() : nl;
    std::size_t text_end = end;
    if (nl != std::string_view::npos && text_end > start && body[text_end - 1] == '\r') --text_end;
    lines.push_back({body.substr(start, text_end - start), number++});
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return lines;
}

StsPolicyResult fail(StsPolicyError e, std::size_t line, std::string detail) {
  StsPolicyResult r;
  r.error = e;
  r.line = line;
  r.detail = line ? "line " + std::to_string(line) + ": " + detail : std::move(detail);
  return r;
}

}  // namespace

std::string_view to_string(StsPolicyError e) {
  switch (e) {
    case StsPolicyError::none: return "ok";
    case StsPolicyError::empty: return "empty";
    case StsPolicyError::blank_line: return "blank-line";
    case StsPolicyError::syntax: return "syntax";
    case StsPolicyError::bad_version: return "bad-version";
    case StsPolicyError::bad_mode: return "bad-mode";
    case StsPolicyError::bad_max_age: return "bad-max-age";
    case StsPolicyError::bad_mx: return "bad-mx";
    case StsPolicyError::too_many_mx: return "too-many-mx";
    case StsPolicyError::missing_version: return "missing-version";
    case StsPolicyError::missing_mode: return "missing-mode";
    case StsPolicyError::missing_max_age: return "missing-max-age";
    case StsPolicyError::missing_mx: return "missing-mx";
  }
  return "syntax";
}

bool is_valid_mx_pattern(std::string_view p) {
  if (p.substr(0, 2) == "*.") p.remove_prefix(2);
  return is_valid_hostname(p);
}

StsPolicyResult parse_sts_policy(std::string_view body) {
  if (body.empty()) return fail(StsPolicyError::empty, 0, "empty policy");
  StsPolicyResult r;
  bool have_version = false, have_mode = false, have_max_age = false;
  for (const Line& line : split_lines(body)) {
    std::string_view t = line.text;
    std::size_t n = line.number;
    for (char c : t) {
      auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7F) return fail(StsPolicyError::syntax, n, "control character");
    }
    std::size_t content_end = t.size();
    while (content_end > 0 && is_wsp(t[content_end - 1])) --content_end;
    if (content_end == 0) return fail(StsPolicyError::blank_line, n, "blank line");
    std::size_t colon = t.find(':');
    if (colon == std::string_view::npos) return fail(StsPolicyError::syntax, n, "no ':' in line");
    std::string_view key = t.substr(0, colon);
    if (!ascii::is_sts_ext_name(key))
      return fail(StsPolicyError::syntax, n, "bad key '" + std::string(key) + "'");
    std::size_t vstart = colon + 1;
    while (vstart < content_end && is_wsp(t[vstart])) ++vstart;
    std::string_view value =
        vstart < content_end ? t.substr(vstart, content_end - vstart) : std::string_view{};
    const std::string v(value);

    if (key == "mx") {
      if (!is_valid_mx_pattern(value)) return fail(StsPolicyError::bad_mx, n, "bad mx pattern '" + v + "'");
      if (r.policy.mx.size() >= limits::sts_mx_patterns_max) {
        return fail(StsPolicyError::too_many_mx, n,
                    "more than " + std::to_string(limits::sts_mx_patterns_max) + " mx patterns");
      }
      r.policy.mx.push_back(v);
    } else if (key == "version" && !have_version) {
      if (value != "STSv1") return fail(StsPolicyError::bad_version, n, "version '" + v + "' is not STSv1");
      have_version = true;
    } else if (key == "mode" && !have_mode) {
      if (value == "enforce") {
        r.policy.mode = StsPolicy::Mode::enforce;
      } else if (value == "testing") {
        r.policy.mode = StsPolicy::Mode::testing;
      } else if (value == "none") {
        r.policy.mode = StsPolicy::Mode::none;
      } else {
        return fail(StsPolicyError::bad_mode, n, "mode '" + v + "' is not enforce, testing or none");
      }
      have_mode = true;
    } else if (key == "max_age" && !have_max_age) {
      if (value.empty() || value.size() > 10) {
        return fail(StsPolicyError::bad_max_age, n, "max_age must be 1 to 10 digits, got '" + v + "'");
      }
      std::uint64_t seconds = 0;
      for (char c : value) {
        if (!is_digit(c)) return fail(StsPolicyError::bad_max_age, n, "max_age '" + v + "' is not a number");
        seconds = seconds * 10 + static_cast<std::uint64_t>(c - '0');
      }
      r.policy.max_age =
          static_cast<std::uint32_t>(std::min<std::uint64_t>(seconds, limits::sts_max_age_max));
      have_max_age = true;
    } else if (!is_ext_value(value)) {
      // an extension field, or a repeat of version/mode/max_age (the first one wins)
      return fail(StsPolicyError::syntax, n, "bad value for '" + std::string(key) + "'");
    }
    r.policy.lines.emplace_back(t);
  }
  if (!have_version) return fail(StsPolicyError::missing_version, 0, "no version field");
  if (!have_mode) return fail(StsPolicyError::missing_mode, 0, "no mode field");
  if (!have_max_age) return fail(StsPolicyError::missing_max_age, 0, "no max_age field");
  if (r.policy.mode != StsPolicy::Mode::none && r.policy.mx.empty()) {
    return fail(StsPolicyError::missing_mx, 0,
                "mode " + std::string(to_string(r.policy.mode)) + " without mx");
  }
  return r;
}

}  // namespace tlsfence::parse
