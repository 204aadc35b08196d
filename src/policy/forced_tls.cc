// Forced-TLS rules: see forced_tls.h for the matching semantics.
#include "policy/forced_tls.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include "parse/domain.h"

namespace tlsfence::policy {

std::string_view to_string(ForcedBy f) {
  switch (f) {
    case ForcedBy::none: return "none";
    case ForcedBy::sender: return "sender";
    case ForcedBy::sasl_user: return "sasl-user";
    case ForcedBy::client_network: return "client-network";
    case ForcedBy::recipient_domain: return "recipient-domain";
  }
  return "none";
}

std::string_view address_domain(std::string_view address) {
  const std::size_t at = address.rfind('@');
  if (at == std::string_view::npos) return {};
  return address.substr(at + 1);
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// A domain from a message (request path): the normalised A-label when it is one, otherwise
// the lower-cased text (an address literal, say), which then matches no domain rule.
std::string normalise_message_domain(std::string_view domain) {
  if (domain.empty()) return {};
  if (is_ascii(domain)) {
    std::string d = lower(domain);
    if (!d.empty() && d.back() == '.') d.pop_back();
    return d;
  }
  parse::NextHop hop = parse::parse_next_hop(domain);
  if (hop.kind == parse::NextHopKind::domain) return hop.domain;
  return lower(domain);
}

[[noreturn]] void bad_rule(std::string_view key, std::string_view rule, std::string_view why) {
  throw ForcedTlsError(std::string(key) + ": bad rule \"" + std::string(rule) + "\": " + std::string(why));
}

// A domain from the configuration: must be a valid domain name.
std::string normalise_rule_domain(std::string_view key, std::string_view rule, std::string_view domain) {
  if (domain.empty()) bad_rule(key, rule, "empty domain");
  parse::NextHop hop = parse::parse_next_hop(domain);
  if (hop.kind != parse::NextHopKind::domain) {
    bad_rule(key, rule, hop.kind == parse::NextHopKind::invalid ? hop.error : "not a domain name");
  }
  return hop.domain;
}

bool has_blank_or_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

struct ParsedAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};
};

std::optional<ParsedAddress> parse_ip(std::string_view text) {
  text = trim(text);
  if (text.size() > 1 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.size() > 5 && lower(text.substr(0, 5)) == "ipv6:") text.remove_prefix(5);
  if (const std::size_t pct = text.find('%'); pct != std::string_view::npos) text = text.substr(0, pct);
  if (text.empty() || text.size() > 64) return std::nullopt;
  const std::string s(text);
  ParsedAddress a;
  if (s.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  static constexpr std::uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(std::begin(mapped_prefix), std::end(mapped_prefix), a.bytes.begin())) {
    std::copy(a.bytes.begin() + 12, a.bytes.end(), a.bytes.begin());
    std::fill(a.bytes.begin() + 4, a.bytes.end(), 0);
    return a;  // IPv4-mapped: treated as IPv4
  }
  a.v6 = true;
  return a;
}

bool prefix_equal(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b,
                  unsigned prefix) {
  const unsigned full = prefix / 8;
  for (unsigned i = 0; i < full; ++i) {
    if (a[i] != b[i]) return false;
  }
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

}  // namespace

std::string_view strip_angle_brackets(std::string_view address) {
  address = trim(address);
  if (address.size() >= 2 && address.front() == '<' && address.back() == '>') {
    address = trim(address.substr(1, address.size() - 2));
  }
  return address;
}

ForcedTls ForcedTls::from_config(const Config::Reception& reception) {
  ForcedTls m;
  for (const std::string& raw : reception.forced_tls_sender) {
    static constexpr std::string_view key = "forced-tls-sender";
    const std::string_view rule = trim(raw);
    if (rule.empty()) bad_rule(key, raw, "empty rule");
    if (has_blank_or_control(rule)) bad_rule(key, raw, "blank or control character");
    const std::size_t at = rule.rfind('@');
    if (at == std::string_view::npos) {
      DomainRule d;
      std::string_view domain = rule;
      if (domain.front() == '.') {
        domain.remove_prefix(1);
        d.self = false;
      }
      d.domain = normalise_rule_domain(key, raw, domain);
      m.sender_domains_.push_back(std::move(d));
    } else if (at == 0) {
      DomainRule d;
      d.subdomains = false;
      d.domain = normalise_rule_domain(key, raw, rule.substr(1));
      m.sender_domains_.push_back(std::move(d));
    } else {
      const std::string local = lower(rule.substr(0, at));
      m.sender_addresses_.push_back(local + "@" + normalise_rule_domain(key, raw, rule.substr(at + 1)));
    }
  }
  for (const std::string& raw : reception.forced_tls_recipient_domain) {
    static constexpr std::string_view key = "forced-tls-recipient-domain";
    std::string_view rule = trim(raw);
    if (rule.empty()) bad_rule(key, raw, "empty rule");
    if (rule.find('@') != std::string_view::npos) bad_rule(key, raw, "a domain, not an address");
    DomainRule d;
    if (rule.front() == '.') {
      rule.remove_prefix(1);
      d.self = false;
    }
    d.domain = normalise_rule_domain(key, raw, rule);
    m.recipient_domains_.push_back(std::move(d));
  }
  for (const std::string& raw : reception.forced_tls_sasl_user) {
    static constexpr std::string_view key = "forced-tls-sasl-user";
    const std::string_view rule = trim(raw);
    if (rule.empty()) bad_rule(key, raw, "empty rule");
    if (has_blank_or_control(rule)) bad_rule(key, raw, "blank or control character");
    m.sasl_users_.push_back(lower(rule));
  }
  for (const std::string& raw : reception.forced_tls_client_network) {
    static constexpr std::string_view key = "forced-tls-client-network";
    const std::string_view rule = trim(raw);
    if (rule.empty()) bad_rule(key, raw, "empty rule");
    const std::size_t slash = rule.find('/');
    const std::string_view addr_text = rule.substr(0, slash);
    if (addr_text.find_first_of("[]%") != std::string_view::npos) bad_rule(key, raw, "not an IP address");
    const auto addr = parse_ip(addr_text);
    if (!addr) bad_rule(key, raw, "not an IP address");
    Network n;
    n.v6 = addr->v6;
    n.bytes = addr->bytes;
    const unsigned max_prefix = n.v6 ? 128 : 32;
    n.prefix = max_prefix;
    if (slash != std::string_view::npos) {
      const std::string_view len = rule.substr(slash + 1);
      unsigned value = 0;
      const auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), value);
      if (len.empty() || ec != std::errc() || end != len.data() + len.size() || value > max_prefix) {
        bad_rule(key, raw, "bad prefix length");
      }
      n.prefix = value;
    }
    std::array<std::uint8_t, 16> masked{};
    const unsigned bytes = n.v6 ? 16 : 4;
    for (unsigned i = 0; i < bytes; ++i) masked[i] = n.bytes[i];
    std::array<std::uint8_t, 16> zero_host = masked;
    for (unsigned bit = n.prefix; bit < bytes * 8; ++bit) {
      zero_host[bit / 8] = static_cast<std::uint8_t>(zero_host[bit / 8] & ~(0x80u >> (bit % 8)));
    }
    if (zero_host != masked) bad_rule(key, raw, "host bits set beyond the prefix length");
    m.networks_.push_back(n);
  }
  return m;
}

bool ForcedTls::empty() const {
  return sender_addresses_.empty() && sender_domains_.empty() && sasl_users_.empty() && networks_.empty() &&
         recipient_domains_.empty();
}

bool ForcedTls::domain_matches(const DomainRule& rule, std::string_view domain) {
  if (domain.empty()) return false;
  if (domain == rule.domain) return rule.self;
  if (!rule.subdomains || domain.size() <= rule.domain.size() + 1) return false;
  return domain.substr(domain.size() - rule.domain.size()) == rule.domain &&
         domain[domain.size() - rule.domain.size() - 1] == '.';
}

bool ForcedTls::sender_forced(std::string_view sender) const {
  sender = strip_angle_brackets(sender);
  const std::size_t at = sender.rfind('@');
  if (sender.empty() || at == std::string_view::npos) return false;
  const std::string domain = normalise_message_domain(sender.substr(at + 1));
  if (!sender_addresses_.empty()) {
    const std::string address = lower(sender.substr(0, at)) + "@" + domain;
    if (std::find(sender_addresses_.begin(), sender_addresses_.end(), address) != sender_addresses_.end()) {
      return true;
    }
  }
  return std::any_of(sender_domains_.begin(), sender_domains_.end(),
                     [&](const DomainRule& r) { return domain_matches(r, domain); });
}

bool ForcedTls::sasl_user_forced(std::string_view user) const {
  user = trim(user);
  if (user.empty() || sasl_users_.empty()) return false;
  const std::string u = lower(user);
  return std::find(sasl_users_.begin(), sasl_users_.end(), u) != sasl_users_.end();
}

bool ForcedTls::client_forced(std::string_view address) const {
  if (networks_.empty()) return false;
  const auto addr = parse_ip(address);
  if (!addr) return false;
  return std::any_of(networks_.begin(), networks_.end(), [&](const Network& n) {
    return n.v6 == addr->v6 && prefix_equal(n.bytes, addr->bytes, n.prefix);
  });
}

bool ForcedTls::recipient_forced(std::string_view recipient) const {
  if (recipient_domains_.empty()) return false;
  const std::string domain = normalise_message_domain(address_domain(strip_angle_brackets(recipient)));
  return std::any_of(recipient_domains_.begin(), recipient_domains_.end(),
                     [&](const DomainRule& r) { return domain_matches(r, domain); });
}

ForcedBy ForcedTls::why(const MessageFacts& facts) const {
  if (sender_forced(facts.sender)) return ForcedBy::sender;
  if (sasl_user_forced(facts.sasl_user)) return ForcedBy::sasl_user;
  if (client_forced(facts.client_address)) return ForcedBy::client_network;
  for (const std::string& r : facts.recipients) {
    if (recipient_forced(r)) return ForcedBy::recipient_domain;
  }
  return ForcedBy::none;
}

}  // namespace tlsfence::policy
