// Socketmap reply text for a PolicyDecision: see answer.h for the rules.
#include "doors/socketmap/answer.h"

#include <algorithm>

namespace tlsfence::socketmap {
namespace {

constexpr std::string_view kOk = "OK ";
constexpr std::string_view kNotFound = "NOTFOUND ";
constexpr std::string_view kTemp = "TEMP ";
constexpr std::string_view kPerm = "PERM ";

bool is_printable(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

bool is_hostname_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_';
}

// A host name as Postfix's valid_hostname() would take it: labels of [A-Za-z0-9-_], dots between.
bool is_plain_hostname(std::string_view s) {
  if (s.empty() || s.size() > limits::domain_name_max) return false;
  if (s.front() == '.' || s.back() == '.') return false;
  char prev = 0;
  for (unsigned char c : s) {
    if (!is_hostname_char(c)) return false;
    if (c == '.' && prev == '.') return false;
    prev = static_cast<char>(c);
  }
  return true;
}

// "name" or "*.name".
bool is_mx_pattern(std::string_view p) {
  if (p.starts_with("*.")) p.remove_prefix(2);
  return is_plain_hostname(p);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// Appends " token" if the reply still fits; false (and nothing appended) otherwise.
bool append_token(std::string& out, std::size_t max, std::string_view a, std::string_view b = {},
                  std::string_view c = {}) {
  if (out.size() + 1 + a.size() + b.size() + c.size() > max) return false;
  out.push_back(' ');
  out.append(a);
  out.append(b);
  out.append(c);
  return true;
}

void append_tlsrpt_attributes(std::string& out, const std::string& domain, const StsPolicy& sts,
                              std::size_t max) {
  if (!is_plain_hostname(domain)) return;  // Postfix would reject the whole policy
  if (!append_token(out, max, "policy_type=sts")) return;
  if (!append_token(out, max, "policy_domain=", domain)) return;
  for (const auto& p : sts.mx) {
    if (!is_mx_pattern(p)) continue;
    if (!append_token(out, max, "mx_host_pattern=", p)) return;
  }
  for (const auto& raw : sts.lines) {
    std::string_view line = trim(raw);
    if (line.empty() || !is_printable(line)) continue;
    if (line.find_first_of("{}") != std::string_view::npos) continue;
    if (!append_token(out, max, "{ policy_string = ", line, " }")) return;
  }
}

void set_temp(std::string& out, std::string_view reason) {
  out.assign(kTemp);
  out.append(sanitize_reason(reason));
}

}  // namespace

std::string sanitize_reason(std::string_view text, std::size_t max) {
  std::string r;
  r.reserve(std::min(text.size(), max));
  for (unsigned char c : text) {
    if (r.size() >= max) break;
    char out;
    if (c == '\r' || c == '\n' || c == '\t' || c == ' ') {
      out = ' ';
    } else if (c < 0x20 || c > 0x7e) {
      out = '?';
    } else {
      out = static_cast<char>(c);
    }
    if (out == ' ' && (r.empty() || r.back() == ' ')) continue;
    r.push_back(out);
  }
  while (!r.empty() && r.back() == ' ') r.pop_back();
  return r;
}

std::string sts_secure_level(const StsPolicy& policy) {
  if (policy.mx.empty()) return {};
  std::string level = "secure match=";
  bool first = true;
  for (const auto& p : policy.mx) {
    if (!is_mx_pattern(p)) return {};
    if (!first) level.push_back(':');
    first = false;
    level.append(p.starts_with("*.") ? std::string_view(p).substr(1) : std::string_view(p));
  }
  level.append(" servername=hostname");
  return level;
}

void format_answer_into(std::string& out, const PolicyDecision& d, const AnswerOptions& o) {
  out.clear();
  const std::size_t max = o.reply_max;
  switch (d.verdict) {
    case Verdict::temp_fail:
      set_temp(out, d.temp_reason.empty() ? "policy temporarily unavailable" : d.temp_reason);
      break;
    case Verdict::policy: {
      if (d.level.empty() || !is_printable(d.level)) {
        set_temp(out, "internal error: unusable policy level");
        break;
      }
      if (kOk.size() + d.level.size() > max) {
        set_temp(out, "internal error: policy longer than the socketmap reply limit");
        break;
      }
      out.assign(kOk);
      out.append(d.level);
      if (o.tlsrpt_attributes && d.source == Source::mta_sts && d.sts)
        append_tlsrpt_attributes(out, d.domain, *d.sts, max);
      break;
    }
    case Verdict::no_policy: {
      if (o.enforce_testing && d.sts && d.sts->mode == StsPolicy::Mode::testing) {
        std::string level = sts_secure_level(*d.sts);
        if (!level.empty() && kOk.size() + level.size() <= max) {
          out.assign(kOk);
          out.append(level);
          if (o.tlsrpt_attributes) append_tlsrpt_attributes(out, d.domain, *d.sts, max);
          break;
        }
        if (!d.sts->mx.empty()) {  // a testing policy we were told to enforce but cannot express
          set_temp(out, "MTA-STS testing policy cannot be enforced: unusable mx patterns");
          break;
        }
      }
      out.assign(kNotFound);
      break;
    }
  }
  if (out.size() > max) set_temp(out, "internal error: reply too long");  // reply_max < 1000
}

std::string format_answer(const PolicyDecision& decision, const AnswerOptions& options) {
  std::string out;
  format_answer_into(out, decision, options);
  return out;
}

std::string perm_answer(std::string_view reason) {
  std::string out(kPerm);
  out.append(sanitize_reason(reason));
  return out;
}

std::string temp_answer(std::string_view reason) {
  std::string out(kTemp);
  out.append(sanitize_reason(reason));
  return out;
}

}  // namespace tlsfence::socketmap
