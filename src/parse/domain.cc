// Next-hop normalisation: IP literals and bracketed/ported next hops are recognised first,
// then the name is lower-cased, converted to A-labels with libidn2 when it has non-ASCII
// bytes, and checked label by label. Trusts nothing in the input; never throws.
#include "parse/domain.h"

#include <arpa/inet.h>
#include <idn2.h>

#include <algorithm>
#include <cstdint>
#include <memory>

#include "tlsfence/limits.h"

namespace tlsfence::parse {
namespace {

// Anything longer cannot become a valid name even after IDNA; refuse before libidn2 sees it.
constexpr std::size_t kKeyMax = 1024;

NextHop invalid(std::string why) {
  return NextHop{NextHopKind::invalid, {}, std::move(why)};
}
NextHop not_domain() {
  return NextHop{NextHopKind::not_a_domain, {}, {}};
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_ip_literal(std::string_view s) {
  if (s.size() > 64) return false;
  std::string z(s);
  unsigned char buf[16];
  return inet_pton(AF_INET, z.c_str(), buf) == 1 || inet_pton(AF_INET6, z.c_str(), buf) == 1;
}

bool is_ldh(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

// Checks one label; returns an error text or "" when fine.
std::string label_error(std::string_view label, std::string_view name) {
  if (label.empty()) return "empty label in \"" + std::string(name) + "\"";
  if (label.size() > limits::domain_label_max)
    return "label longer than " + std::to_string(limits::domain_label_max) + " octets";
  for (char c : label) {
    if (!is_ldh(c)) {
      if (c == '_') return "underscore in \"" + std::string(name) + "\" (not a host name)";
      return "character not allowed in a host name in \"" + std::string(name) + "\"";
    }
  }
  if (label.front() == '-' || label.back() == '-')
    return "label starts or ends with a hyphen in \"" + std::string(name) + "\"";
  return {};
}

// Every label checked; "" when the whole name is a valid host name.
std::string name_error(std::string_view name) {
  if (name.empty()) return "empty domain";
  if (name.size() > limits::domain_name_max)
    return "domain longer than " + std::to_string(limits::domain_name_max) + " octets";
  std::string_view last;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = name.find('.', start);
    std::string_view label = name.substr(start, dot == std::string_view::npos ? name.npos : dot - start);
    if (auto e = label_error(label, name); !e.empty()) return e;
    last = label;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (all_digits(last)) return "top-level label is all-numeric in \"" + std::string(name) + "\"";
  return {};
}

struct IdnFree {
  void operator()(void* p) const { idn2_free(p); }
};

// U-labels → A-labels (UTS #46 non-transitional). Returns false with `error` set on failure.
bool to_alabels(const std::string& in, std::string& out, std::string& error) {
  std::uint8_t* raw = nullptr;
  int rc = idn2_lookup_u8(reinterpret_cast<const std::uint8_t*>(in.c_str()), &raw,
                          IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  std::unique_ptr<std::uint8_t, IdnFree> owned(raw);
  if (rc != IDN2_OK || raw == nullptr) {
    error = std::string("IDNA conversion failed: ") + idn2_strerror(rc);
    return false;
  }
  out.assign(reinterpret_cast<const char*>(raw));
  return true;
}

// An ASCII label "xn--…" must decode to Unicode, or it is not a real A-label.
bool alabels_decode(const std::string& name) {
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t dot = name.find('.', start);
    std::string label = name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.size() > 4 && label.compare(0, 4, "xn--") == 0) {
      char* out = nullptr;
      int rc = idn2_to_unicode_8z8z(label.c_str(), &out, 0);
      idn2_free(out);
      if (rc != IDN2_OK) return false;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return true;
}

NextHop bracketed(std::string_view key) {
  std::size_t close = key.find(']');
  if (close == std::string_view::npos) return invalid("unbalanced '[' in next hop");
  std::string_view inside = key.substr(1, close - 1);
  if (inside.empty()) return invalid("empty [] next hop");
  std::string_view rest = key.substr(close + 1);
  if (!rest.empty() && !(rest.front() == ':' && all_digits(rest.substr(1))))
    return invalid("garbage after ']' in next hop");
  return not_domain();
}

}  // namespace

NextHop parse_next_hop(std::string_view key) {
  if (key.empty()) return invalid("empty next hop");
  if (key.size() > kKeyMax) return invalid("next hop longer than " + std::to_string(kKeyMax) + " octets");
  if (key.find('\0') != std::string_view::npos) return invalid("NUL byte in next hop");
  if (key.front() == '[') return bracketed(key);
  if (is_ip_literal(key)) return not_domain();
  if (auto colon = key.rfind(':'); colon != std::string_view::npos) {
    if (all_digits(key.substr(colon + 1)) && colon > 0) return not_domain();  // host:port
    return invalid("':' in next hop that is neither host:port nor an IP literal");
  }

  std::string name(key);
  if (name.back() == '.') name.pop_back();  // one trailing dot: the root
  if (name.empty()) return invalid("empty domain");
  bool ascii = true;
  for (char& c : name) {
    if (static_cast<unsigned char>(c) >= 0x80) ascii = false;
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (!ascii) {
    std::string converted, error;
    if (!to_alabels(name, converted, error)) return invalid(error);
    name = std::move(converted);
    for (char& c : name)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (auto e = name_error(name); !e.empty()) return invalid(e);
  if (!alabels_decode(name))
    return invalid("\"" + name + "\" holds an xn-- label that is not a valid A-label");
  return NextHop{NextHopKind::domain, std::move(name), {}};
}

bool is_valid_hostname(std::string_view name) {
  return name_error(name).empty();
}

}  // namespace tlsfence::parse
