// Table tests for next-hop normalisation (src/parse/domain.h).
#include "parse/domain.h"

#include <gtest/gtest.h>

#include <string>

namespace tlsfence::parse {
namespace {

struct Case {
  std::string key;
  NextHopKind kind;
  std::string domain;  // expected when kind == domain
};
void PrintTo(const Case& c, std::ostream* os) {
  *os << '"' << c.key.substr(0, 80) << '"';
}

std::string label(std::size_t n, char c = 'a') {
  return std::string(n, c);
}

// 253 octets: 3 labels of 63 + 1 label of 61, separated by 3 dots.
std::string name_of_length(std::size_t total) {
  std::string s = label(63) + "." + label(63) + "." + label(63) + ".";
  s += label(total - s.size());
  return s;
}

class NextHopTable : public ::testing::TestWithParam<Case> {};

TEST_P(NextHopTable, Parses) {
  const Case& c = GetParam();
  NextHop h = parse_next_hop(c.key);
  EXPECT_EQ(h.kind, c.kind) << "key=" << c.key << " error=" << h.error << " domain=" << h.domain;
  if (c.kind == NextHopKind::domain) {
    EXPECT_EQ(h.domain, c.domain);
  }
  if (c.kind == NextHopKind::invalid) {
    EXPECT_FALSE(h.error.empty()) << c.key;
  }
  if (c.kind != NextHopKind::domain) {
    EXPECT_TRUE(h.domain.empty()) << c.key;
  }
}

const Case kCases[] = {
    {"example.com", NextHopKind::domain, "example.com"},
    {"Example.COM", NextHopKind::domain, "example.com"},
    {"example.com.", NextHopKind::domain, "example.com"},
    {"Bücher.example", NextHopKind::domain, "xn--bcher-kva.example"},
    {"BÜCHER.example", NextHopKind::domain, "xn--bcher-kva.example"},
    {"xn--bcher-kva.example", NextHopKind::domain, "xn--bcher-kva.example"},
    {"faß.de", NextHopKind::domain, "xn--fa-hia.de"},  // non-transitional: ß kept
    {"localhost", NextHopKind::domain, "localhost"},
    {"a-b.c0.test", NextHopKind::domain, "a-b.c0.test"},
    {"123.example", NextHopKind::domain, "123.example"},
    {label(63) + ".example", NextHopKind::domain, label(63) + ".example"},
    {name_of_length(253), NextHopKind::domain, name_of_length(253)},
    {name_of_length(253) + ".", NextHopKind::domain, name_of_length(253)},
    // not a domain: no policy applies
    {"[1.2.3.4]", NextHopKind::not_a_domain, ""},
    {"[1.2.3.4]:25", NextHopKind::not_a_domain, ""},
    {"[ipv6:2001:db8::1]", NextHopKind::not_a_domain, ""},
    {"[ipv6:2001:db8::1]:587", NextHopKind::not_a_domain, ""},
    {"[mx.example]", NextHopKind::not_a_domain, ""},
    {"[mx.example]:587", NextHopKind::not_a_domain, ""},
    {"mx.example:587", NextHopKind::not_a_domain, ""},
    {"1.2.3.4", NextHopKind::not_a_domain, ""},
    {"2001:db8::1", NextHopKind::not_a_domain, ""},
    {"::1", NextHopKind::not_a_domain, ""},
    // invalid
    {"", NextHopKind::invalid, ""},
    {".", NextHopKind::invalid, ""},
    {"..", NextHopKind::invalid, ""},
    {"a..b", NextHopKind::invalid, ""},
    {".example", NextHopKind::invalid, ""},
    {"example..", NextHopKind::invalid, ""},
    {label(64) + ".example", NextHopKind::invalid, ""},
    {name_of_length(254), NextHopKind::invalid, ""},
    {std::string(5000, 'a'), NextHopKind::invalid, ""},
    {"-bad-.example", NextHopKind::invalid, ""},
    {"bad-.example", NextHopKind::invalid, ""},
    {"-bad.example", NextHopKind::invalid, ""},
    {"under_score.example", NextHopKind::invalid, ""},
    {"_25._tcp.example", NextHopKind::invalid, ""},
    {"sp ace.example", NextHopKind::invalid, ""},
    {"tab\t.example", NextHopKind::invalid, ""},
    {"a/b.example", NextHopKind::invalid, ""},
    {"user@example.com", NextHopKind::invalid, ""},
    {std::string("nul\0.example", 12), NextHopKind::invalid, ""},
    {"\xff\xfe.example", NextHopKind::invalid, ""},  // not UTF-8
    {"[1.2.3.4", NextHopKind::invalid, ""},
    {"[]", NextHopKind::invalid, ""},
    {"[1.2.3.4]x", NextHopKind::invalid, ""},
    {"[1.2.3.4]:", NextHopKind::invalid, ""},
    {"mx.example:abc", NextHopKind::invalid, ""},
    {":25", NextHopKind::invalid, ""},
    {"1.2.3.999", NextHopKind::invalid, ""},       // all-numeric TLD, not an address either
    {"xn--zz.example", NextHopKind::invalid, ""},  // not a decodable A-label
    {"☃.example", NextHopKind::invalid, ""},       // IDNA2008 disallows symbols
};

INSTANTIATE_TEST_SUITE_P(Domain, NextHopTable, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::to_string(info.index); });

TEST(NextHop, ErrorsNameTheProblem) {
  EXPECT_NE(parse_next_hop(label(64) + ".example").error.find("63"), std::string::npos);
  EXPECT_NE(parse_next_hop(name_of_length(254)).error.find("253"), std::string::npos);
  EXPECT_NE(parse_next_hop("under_score.example").error.find("underscore"), std::string::npos);
  EXPECT_NE(parse_next_hop("").error.find("empty"), std::string::npos);
}

struct HostCase {
  std::string name;
  bool valid;
};
void PrintTo(const HostCase& c, std::ostream* os) {
  *os << '"' << c.name.substr(0, 80) << '"';
}

class HostnameTable : public ::testing::TestWithParam<HostCase> {};

TEST_P(HostnameTable, Validates) {
  EXPECT_EQ(is_valid_hostname(GetParam().name), GetParam().valid) << GetParam().name;
}

const HostCase kHosts[] = {
    {"mx.example", true},
    {"MX.Example", true},
    {"localhost", true},
    {"xn--bcher-kva.example", true},
    {label(63) + ".x", true},
    {name_of_length(253), true},
    {"", false},
    {".", false},
    {"mx.example.", false},
    {"a..b", false},
    {label(64) + ".x", false},
    {name_of_length(254), false},
    {"-mx.example", false},
    {"mx-.example", false},
    {"m_x.example", false},
    {"*.example", false},
    {"1.2.3.4", false},
    {"Bücher.example", false},
};

INSTANTIATE_TEST_SUITE_P(Domain, HostnameTable, ::testing::ValuesIn(kHosts),
                         [](const auto& info) { return std::to_string(info.index); });

}  // namespace
}  // namespace tlsfence::parse
