// Parser for the `_smtp._tls` TXT record (RFC 8460 §3 ABNF):
//   tlsrpt-record  = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
//   field-delim    = *WSP ";" *WSP
//   tlsrpt-version = %s"v=TLSRPTv1"
//   tlsrpt-rua     = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
//   tlsrpt-ext     = name "=" 1*(%x21-3A / %x3C / %x3E-7E)
// Trusts nothing: DNS data from anywhere. No exceptions, no logging.
#include "parse/tlsrpt_record.h"

#include "tlsfence/limits.h"

namespace tlsfence::parse {
namespace {

constexpr std::string_view version_tag = "v=TLSRPTv1";

bool is_wsp(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

bool is_ext_name(std::string_view n) {
  if (n.empty() || n.size() > 32) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '_' && c != '-' && c != '.'))) return false;
  }
  return true;
}

bool is_ext_value(std::string_view v) {
  if (v.empty()) return false;
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e || c == '=' || c == ';') return false;
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes only %2C and %3B (the escapes §3 demands inside a URI), keeping every other
// escape as written so an https: URL stays the URL its owner published.
std::optional<std::string> decode_delimiters(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (s.size() - i < 3) return std::nullopt;
    int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    char c = static_cast<char>(hi * 16 + lo);
    if (c == ',' || c == ';') {
      out += c;
    } else {
      out.append(s.substr(i, 3));
    }
    i += 2;
  }
  return out;
}

// A URI has no whitespace or control characters and no bare "," or ";" (§3).
bool plausible_uri_chars(std::string_view uri) {
  for (char c : uri) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == ',' || c == ';') return false;
  }
  return true;
}

std::optional<TlsrptRua> parse_uri(std::string_view uri) {
  if (uri.empty() || !plausible_uri_chars(uri)) return std::nullopt;
  TlsrptRua rua;
  rua.uri = std::string(uri);
  if (starts_with_ci(uri, "mailto:")) {
    std::string_view rest = uri.substr(7);
    if (auto q = rest.find('?'); q != std::string_view::npos) rest = rest.substr(0, q);
    auto decoded = percent_decode(rest);
    if (!decoded) return std::nullopt;
    auto at = decoded->rfind('@');
    if (at == std::string::npos || at == 0 || at + 1 == decoded->size()) return std::nullopt;
    for (char c : *decoded) {
      auto u = static_cast<unsigned char>(c);
      if (u < 0x21 || u == 0x7f || c == ',' || c == '<' || c == '>') return std::nullopt;
    }
    rua.scheme = TlsrptRua::Scheme::mailto;
    rua.target = std::move(*decoded);
    return rua;
  }
  if (starts_with_ci(uri, "https://")) {
    if (uri.size() <= 8 || uri[8] == '/') return std::nullopt;
    auto decoded = decode_delimiters(uri);
    if (!decoded) return std::nullopt;
    rua.scheme = TlsrptRua::Scheme::https;
    rua.target = std::move(*decoded);
    return rua;
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(TlsrptRecordError e) {
  switch (e) {
    case TlsrptRecordError::none: return "ok";
    case TlsrptRecordError::too_long: return "record too long";
    case TlsrptRecordError::not_tlsrpt: return "record does not start with v=TLSRPTv1";
    case TlsrptRecordError::bad_syntax: return "bad record syntax";
    case TlsrptRecordError::no_rua: return "no rua field";
    case TlsrptRecordError::no_usable_rua: return "no mailto: or https: URI in rua";
    case TlsrptRecordError::no_record: return "no TLSRPTv1 record";
    case TlsrptRecordError::several_records: return "more than one TLSRPTv1 record";
  }
  return "bad record";
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (s.size() - i < 3) return std::nullopt;
    int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

TlsrptRecordResult parse_tlsrpt_record(std::string_view txt) {
  TlsrptRecordResult result;
  if (txt.size() > limits::tlsrpt_record_max) {
    result.error = TlsrptRecordError::too_long;
    return result;
  }
  if (txt.substr(0, version_tag.size()) != version_tag) {
    result.error = TlsrptRecordError::not_tlsrpt;
    return result;
  }
  std::string_view rest = txt.substr(version_tag.size());
  // After the version: only a field delimiter may follow ("v=TLSRPTv10" is not v1).
  if (!rest.empty() && !is_wsp(rest.front()) && rest.front() != ';') {
    result.error = TlsrptRecordError::not_tlsrpt;
    return result;
  }
  TlsrptRecord record;
  bool have_rua = false;
  std::size_t fields = 0;
  while (true) {
    rest = trim(rest);
    if (rest.empty()) break;
    if (rest.front() != ';') {
      result.error = TlsrptRecordError::bad_syntax;
      return result;
    }
    rest.remove_prefix(1);
    rest = trim(rest);
    if (rest.empty()) break;  // optional trailing delimiter
    std::size_t end = rest.find(';');
    std::string_view field = trim(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    std::size_t eq = field.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      result.error = TlsrptRecordError::bad_syntax;
      return result;
    }
    std::string_view name = field.substr(0, eq);
    std::string_view value = field.substr(eq + 1);
    ++fields;
    if (name == "rua") {
      if (have_rua) continue;  // the first rua field counts
      have_rua = true;
      std::size_t pos = 0;
      while (pos <= value.size()) {
        std::size_t comma = value.find(',', pos);
        std::string_view uri =
            trim(value.substr(pos, comma == std::string_view::npos ? value.npos : comma - pos));
        if (auto rua = parse_uri(uri); rua && record.rua.size() < limits::tlsrpt_rua_max) {
          record.rua.push_back(std::move(*rua));
        } else {
          ++record.skipped_uris;
        }
        if (comma == std::string_view::npos) break;
        pos = comma + 1;
      }
    } else if (!is_ext_name(name) || !is_ext_value(value)) {
      result.error = TlsrptRecordError::bad_syntax;
      return result;
    }
  }
  if (fields == 0 || !have_rua) {
    result.error = TlsrptRecordError::no_rua;
    return result;
  }
  if (record.rua.empty()) {
    result.error = TlsrptRecordError::no_usable_rua;
    return result;
  }
  result.record = std::move(record);
  return result;
}

TlsrptRecordResult select_tlsrpt_record(const std::vector<std::string>& txts) {
  const std::string* chosen = nullptr;
  std::size_t count = 0;
  for (const auto& t : txts) {
    // §3: "records that do not begin with v=TLSRPTv1; are discarded"
    std::string_view s(t);
    if (s.substr(0, version_tag.size()) != version_tag) continue;
    std::string_view after = s.substr(version_tag.size());
    if (!after.empty() && !is_wsp(after.front()) && after.front() != ';') continue;
    ++count;
    chosen = &t;
  }
  TlsrptRecordResult result;
  if (count == 0) {
    result.error = TlsrptRecordError::no_record;
    return result;
  }
  if (count > 1) {
    result.error = TlsrptRecordError::several_records;
    return result;
  }
  return parse_tlsrpt_record(*chosen);
}

}  // namespace tlsfence::parse
