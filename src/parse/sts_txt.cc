// MTA-STS TXT record parser (RFC 8461 §3.1); see sts_txt.h for the grammar and decisions.
#include "parse/sts_txt.h"

#include "tlsfence/limits.h"

#include "parse/ascii.h"

namespace tlsfence::parse {
namespace {

using ascii::consume;
using ascii::is_alnum;
using ascii::is_alpha;
using ascii::is_digit;
using ascii::is_wsp;

constexpr std::string_view kVersion = "v=STSv1";

// %x21-3A / %x3C / %x3E-7E
bool is_ext_value_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return u >= 0x21 && u <= 0x7E && c != ';' && c != '=';
}

bool is_valid_id(std::string_view s) {
  if (s.empty() || s.size() > limits::sts_id_max) return false;
  for (char c : s) {
    if (!is_alnum(c)) return false;
  }
  return true;
}

StsTxtResult fail(StsTxtError e, std::string detail) {
  return StsTxtResult{e, {}, std::move(detail)};
}

}  // namespace

std::string_view to_string(StsTxtError e) {
  switch (e) {
    case StsTxtError::none: return "ok";
    case StsTxtError::no_record: return "no-record";
    case StsTxtError::several_records: return "several-records";
    case StsTxtError::syntax: return "syntax";
    case StsTxtError::missing_id: return "missing-id";
    case StsTxtError::bad_id: return "bad-id";
  }
  return "syntax";
}

bool is_sts_txt_candidate(std::string_view record) {
  if (record.substr(0, kVersion.size()) != kVersion) return false;
  if (record.size() == kVersion.size()) return true;
  char next = record[kVersion.size()];
  return next == ';' || is_wsp(next);
}

StsTxtResult parse_sts_txt_record(std::string_view rec) {
  if (!is_sts_txt_candidate(rec)) return fail(StsTxtError::syntax, "record does not start with v=STSv1");
  std::size_t pos = kVersion.size();
  std::string id;
  while (true) {
    // sts-field-delim, or the end of the record
    std::size_t before = pos;
    while (pos < rec.size() && is_wsp(rec[pos])) ++pos;
    if (pos == rec.size()) {
      if (pos != before) return fail(StsTxtError::syntax, "whitespace at the end without ';'");
      break;
    }
    if (rec[pos] != ';') return fail(StsTxtError::syntax, "expected ';' at offset " + std::to_string(pos));
    ++pos;
    while (pos < rec.size() && is_wsp(rec[pos])) ++pos;
    if (pos == rec.size()) break;  // optional trailing delimiter
    // sts-field: name "=" value
    std::size_t eq = rec.find('=', pos);
    if (eq == std::string_view::npos) return fail(StsTxtError::syntax, "field without '='");
    std::string_view name = rec.substr(pos, eq - pos);
    if (!ascii::is_sts_ext_name(name))
      return fail(StsTxtError::syntax, "bad field name '" + std::string(name) + "'");
    std::size_t end = eq + 1;
    while (end < rec.size() && rec[end] != ';' && !is_wsp(rec[end])) ++end;
    std::string_view value = rec.substr(eq + 1, end - eq - 1);
    if (name == "id" && id.empty()) {
      if (!is_valid_id(value)) {
        return fail(StsTxtError::bad_id,
                    "id must be 1-32 letters or digits, got '" + std::string(value) + "'");
      }
      id = std::string(value);
    } else {
      if (value.empty()) return fail(StsTxtError::syntax, "empty value for '" + std::string(name) + "'");
      for (char c : value) {
        if (!is_ext_value_char(c)) {
          return fail(StsTxtError::syntax, "bad character in value of '" + std::string(name) + "'");
        }
      }
    }
    pos = end;
  }
  if (id.empty()) return fail(StsTxtError::missing_id, "no id field");
  return StsTxtResult{StsTxtError::none, std::move(id), {}};
}

StsTxtResult parse_sts_txt(const std::vector<std::string>& records) {
  const std::string* found = nullptr;
  std::size_t count = 0;
  for (const auto& r : records) {
    if (!is_sts_txt_candidate(r)) continue;
    ++count;
    found = &r;
  }
  if (count == 0) return fail(StsTxtError::no_record, "no TXT record starts with v=STSv1");
  if (count > 1) {
    return fail(StsTxtError::several_records, std::to_string(count) + " TXT records start with v=STSv1");
  }
  return parse_sts_txt_record(*found);
}

}  // namespace tlsfence::parse
