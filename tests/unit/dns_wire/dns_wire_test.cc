// Table tests for the wire-format RDATA codecs (src/parse/dns_wire.h).
#include "parse/dns_wire.h"

#include <gtest/gtest.h>

#include <string>

namespace tlsfence::parse {
namespace {

using namespace std::string_literals;

std::string bytes(std::size_t n, char c = 'x') {
  return std::string(n, c);
}

TEST(WireName, Decodes) {
  struct {
    std::string wire;
    std::optional<std::string> name;
    std::size_t end;
  } cases[] = {
      {"\x02mx\x07"
       "example\x00"s,
       "mx.example", 12},
      {"\x02MX\x07"
       "Example\x00"s,
       "mx.example", 12},
      {"\x00"s, ".", 1},
      {"\x03"
       "a.b\x00"s,
       "a\\046b", 5},
      {"\x03_25\x00"s, "_25", 5},
      {"\x01*\x01x\x00"s, "*.x", 5},
      {"\x02"
       "a\xff\x00"s,
       "a\\255", 4},
      {"\x02mx\x07"
       "example"s,
       std::nullopt, 0},                                // no root label
      {"\x05mx"s, std::nullopt, 0},                     // label past end
      {"\xc0\x0c"s, std::nullopt, 0},                   // compression pointer
      {"\x40" + bytes(64) + "\x00"s, std::nullopt, 0},  // reserved label type (64)
      {""s, std::nullopt, 0},
  };
  for (const auto& c : cases) {
    std::size_t off = 0;
    auto got = parse_wire_name(c.wire, off);
    EXPECT_EQ(got, c.name) << "wire size " << c.wire.size();
    EXPECT_EQ(off, c.name ? c.end : 0u);
  }
}

TEST(WireName, LengthLimit) {
  // 4 labels of 63 → 4*64 + 1 = 257 octets: too long. 3*64 + 62 + 1 = 255: fine.
  std::string ok, too_long;
  for (int i = 0; i < 3; ++i) ok += "\x3f" + bytes(63);
  ok += "\x3d" + bytes(61) + "\x00"s;
  ASSERT_EQ(ok.size(), 255u);
  std::size_t off = 0;
  EXPECT_TRUE(parse_wire_name(ok, off).has_value());
  for (int i = 0; i < 4; ++i) too_long += "\x3f" + bytes(63);
  too_long += "\x00"s;
  off = 0;
  EXPECT_FALSE(parse_wire_name(too_long, off).has_value());
}

TEST(WireName, OffsetInside) {
  std::string wire = "\x00\x0a\x02mx\x00"s;
  std::size_t off = 2;
  EXPECT_EQ(parse_wire_name(wire, off), "mx");
  EXPECT_EQ(off, wire.size());
}

TEST(WireName, EncodeRoundTrip) {
  for (std::string name : {"mx.example", "a.b.c.d", "_25._tcp.mx.example", "x"}) {
    std::string w = encode_wire_name(name);
    std::size_t off = 0;
    EXPECT_EQ(parse_wire_name(w, off), name);
    EXPECT_EQ(off, w.size());
  }
  EXPECT_EQ(encode_wire_name("."), "\x00"s);
  EXPECT_EQ(encode_wire_name("mx.example."), encode_wire_name("mx.example"));
  EXPECT_EQ(encode_wire_name("a..b"), "");
  EXPECT_EQ(encode_wire_name(bytes(64)), "");
}

TEST(Mx, Decodes) {
  auto mx = parse_mx_rdata(encode_mx_rdata(10, "mx1.Example"));
  ASSERT_TRUE(mx);
  EXPECT_EQ(mx->preference, 10);
  EXPECT_EQ(mx->exchange, "mx1.example");

  auto null_mx = parse_mx_rdata("\x00\x00\x00"s);
  ASSERT_TRUE(null_mx);
  EXPECT_EQ(null_mx->preference, 0);
  EXPECT_EQ(null_mx->exchange, ".");

  auto high = parse_mx_rdata(encode_mx_rdata(65535, "a"));
  ASSERT_TRUE(high);
  EXPECT_EQ(high->preference, 65535);
}

TEST(Mx, Malformed) {
  EXPECT_FALSE(parse_mx_rdata(""s));
  EXPECT_FALSE(parse_mx_rdata("\x00"s));
  EXPECT_FALSE(parse_mx_rdata("\x00\x0a"s));                      // no name
  EXPECT_FALSE(parse_mx_rdata("\x00\x0a\x02mx"s));                // unterminated
  EXPECT_FALSE(parse_mx_rdata(encode_mx_rdata(10, "mx") + "x"));  // trailing bytes
  EXPECT_FALSE(parse_mx_rdata("\x00\x0a\xc0\x0c"s));              // compressed
}

TEST(Txt, Decodes) {
  EXPECT_EQ(parse_txt_rdata("\x07v=STSv1"s), "v=STSv1");
  EXPECT_EQ(parse_txt_rdata("\x03"
                            "abc\x03"
                            "def"s),
            "abcdef");
  EXPECT_EQ(parse_txt_rdata("\x00"s), "");
  std::string long_text(600, 'q');
  EXPECT_EQ(parse_txt_rdata(encode_txt_rdata(long_text)), long_text);
  EXPECT_EQ(encode_txt_rdata(long_text).size(), 603u);
  EXPECT_FALSE(parse_txt_rdata(""s));
  EXPECT_FALSE(
      parse_txt_rdata("\x05"
                      "abc"s));
  EXPECT_FALSE(
      parse_txt_rdata("\x03"
                      "abc\x01"s));
}

TEST(Address, Decodes) {
  EXPECT_EQ(parse_a_rdata("\x7f\x00\x00\x0a"s), "127.0.0.10");
  EXPECT_FALSE(parse_a_rdata("\x7f\x00\x00"s));
  EXPECT_FALSE(parse_a_rdata("\x7f\x00\x00\x0a\x00"s));
  EXPECT_EQ(parse_aaaa_rdata(encode_aaaa_rdata("2001:db8::1")), "2001:db8::1");
  EXPECT_EQ(parse_aaaa_rdata(encode_aaaa_rdata("::1")), "::1");
  EXPECT_FALSE(parse_aaaa_rdata(bytes(15)));
  EXPECT_FALSE(parse_aaaa_rdata(bytes(4)));
  EXPECT_EQ(encode_a_rdata("127.0.0.10"), "\x7f\x00\x00\x0a"s);
  EXPECT_EQ(encode_a_rdata("::1"), "");
  EXPECT_EQ(encode_aaaa_rdata("1.2.3.4"), "");
}

struct TlsaCase {
  std::string rdata;
  bool parses;
  bool usable;
};
void PrintTo(const TlsaCase& c, std::ostream* os) {
  *os << c.rdata.size() << " bytes";
}

class TlsaTable : public ::testing::TestWithParam<TlsaCase> {};

TEST_P(TlsaTable, Usability) {
  auto r = parse_tlsa_rdata(GetParam().rdata);
  ASSERT_EQ(r.has_value(), GetParam().parses);
  if (r) {
    EXPECT_EQ(r->usable, GetParam().usable);
    EXPECT_EQ(r->data, GetParam().rdata.substr(3));
  }
}

std::string tlsa(int u, int s, int m, std::size_t n) {
  return encode_tlsa_rdata(u, s, m, bytes(n, '\xab'));
}

const TlsaCase kTlsa[] = {
    {tlsa(3, 1, 1, 32), true, true},  {tlsa(2, 0, 1, 32), true, true},      {tlsa(3, 0, 2, 64), true, true},
    {tlsa(2, 1, 2, 64), true, true},  {tlsa(3, 1, 0, 1), true, true},       {tlsa(3, 0, 0, 300), true, true},
    {tlsa(3, 1, 1, 31), true, false}, {tlsa(3, 1, 1, 33), true, false},     {tlsa(3, 1, 1, 16), true, false},
    {tlsa(3, 1, 2, 32), true, false}, {tlsa(3, 1, 2, 63), true, false},     {tlsa(3, 1, 0, 0), true, false},
    {tlsa(3, 1, 1, 0), true, false},  {tlsa(0, 0, 1, 32), true, false},     {tlsa(1, 1, 1, 32), true, false},
    {tlsa(4, 1, 1, 32), true, false}, {tlsa(255, 1, 1, 32), true, false},   {tlsa(3, 2, 1, 32), true, false},
    {tlsa(3, 1, 3, 32), true, false}, {tlsa(3, 255, 255, 32), true, false}, {""s, false, false},
    {"\x03"s, false, false},          {"\x03\x01"s, false, false},
};

INSTANTIATE_TEST_SUITE_P(DnsWire, TlsaTable, ::testing::ValuesIn(kTlsa),
                         [](const auto& info) { return std::to_string(info.index); });

TEST(Tlsa, Fields) {
  auto r = parse_tlsa_rdata(tlsa(3, 1, 1, 32));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->usage, 3);
  EXPECT_EQ(r->selector, 1);
  EXPECT_EQ(r->matching_type, 1);
  EXPECT_EQ(r->data.size(), 32u);
}

}  // namespace
}  // namespace tlsfence::parse
