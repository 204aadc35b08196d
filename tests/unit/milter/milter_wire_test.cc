// Table tests for the milter wire codec (src/parse/milter_wire.h): the packet reader and every
// decoder and encoder. The byte layouts marked "Postfix" and "Sendmail" are the ones Postfix
// 3.7 (src/milter/milter8.c) and Sendmail 8.17/8.18 (sendmail/milter.c) put on the wire; the
// notes on libmilter say what its reader (libmilter/engine.c, comm.c) does with the same
// bytes. Packets are built by hand here (be32/pkt), not with the encoders under test.
#include "parse/milter_wire.h"

#include <gtest/gtest.h>
#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tlsfence/limits.h"

namespace tlsfence::parse::milter {
namespace {

using namespace std::string_literals;
using Status = PacketReader::Status;

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xff), static_cast<char>((v >> 8) & 0xff),
          static_cast<char>(v & 0xff)};
}

std::string be16(std::uint16_t v) {
  return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
}

// One packet as an MTA writes it: length (command byte + data), command, data.
std::string pkt(char command, const std::string& data = {}) {
  return be32(static_cast<std::uint32_t>(data.size() + 1)) + command + data;
}

std::string optneg_data(std::uint32_t version, std::uint32_t actions, std::uint32_t protocol) {
  return be32(version) + be32(actions) + be32(protocol);
}

// What Postfix 3.7 offers with milter_protocol = 6 (its default): every action it implements
// and MILTER8_V6_PROTO_MASK, which is SMFI_CURR_PROT.
constexpr std::uint32_t kPostfixActions = SMFIF_ADDHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT | SMFIF_DELRCPT |
                                          SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_CHGFROM |
                                          SMFIF_ADDRCPT_PAR | SMFIF_SETSYMLIST;
constexpr std::uint32_t kPostfixProtocol = SMFI_CURR_PROT;

// A whole Postfix-like session: negotiation, connect (with its macros), HELO macros without
// the HELO (SMFIP_NOHELO), MAIL with ESMTP args, RCPT, DATA, a header, end of message, quit.
std::string postfix_session() {
  return pkt('O', optneg_data(6, kPostfixActions, kPostfixProtocol)) +
         pkt('D', "Cj\0mx.example\0{daemon_name}\0mx.example\0v\0Postfix 3.7.11\0"s) +
         pkt('C', "client.example\0"s + "4" + be16(54321) + "192.0.2.1\0"s) +
         pkt('D', "H{tls_version}\0TLSv1.3\0"s) +
         pkt('D',
             "Mi\0"
             "4Xk1Lq0zQbz9t\0{auth_authen}\0alice\0{mail_addr}\0a@clinic.example\0"s) +
         pkt('M', "<a@clinic.example>\0SIZE=1234\0BODY=8BITMIME\0"s) +
         pkt('D', "R{rcpt_addr}\0b@partner.test\0"s) + pkt('R', "<b@partner.test>\0"s) + pkt('D', "T"s) +
         pkt('T') + pkt('D', "L"s) + pkt('L', "Subject\0hello\0"s) + pkt('D', "E"s) + pkt('E') + pkt('Q');
}

// ---------------------------------------------------------------------------------------------
// PacketReader

struct Outcome {
  std::vector<std::pair<char, std::string>> packets;
  WireError error = WireError::none;
  bool mid_packet = false;
  bool operator==(const Outcome&) const = default;
};

void drain(PacketReader& r, Outcome& out) {
  while (true) {
    auto n = r.next();
    if (n.status == Status::need_more) break;
    if (n.status == Status::error) {
      out.error = n.error;
      break;
    }
    out.packets.emplace_back(n.packet.command, std::string(n.packet.data));
  }
  out.mid_packet = r.mid_packet();
}

Outcome read_all(const std::vector<std::string_view>& chunks) {
  PacketReader r;
  Outcome out;
  for (auto c : chunks) {
    r.feed(c);
    drain(r, out);
    if (out.error != WireError::none) break;
  }
  return out;
}

struct ReaderCase {
  const char* name;
  std::string input;
  std::vector<std::pair<char, std::string>> packets;
  WireError error;
  bool mid_packet;
};

TEST(MilterWireReader, Table) {
  const std::string max_header = be32(static_cast<std::uint32_t>(limits::milter_packet_max));
  const ReaderCase cases[] = {
      {"nothing", "", {}, WireError::none, false},
      {"Postfix negotiation",
       pkt('O', optneg_data(6, kPostfixActions, kPostfixProtocol)),
       {{'O', optneg_data(6, kPostfixActions, kPostfixProtocol)}},
       WireError::none,
       false},
      {"command byte only (QUIT, length 1)", "\0\0\0\1Q"s, {{'Q', ""}}, WireError::none, false},
      {"two packets",
       pkt('A') + pkt('R', "<b@x.test>\0"s),
       {{'A', ""}, {'R', "<b@x.test>\0"s}},
       WireError::none,
       false},
      {"one length byte", "\0"s, {}, WireError::none, true},
      {"three length bytes", "\0\0\0"s, {}, WireError::none, true},
      {"length, no command", "\0\0\0\5"s, {}, WireError::none, true},
      {"truncated data", pkt('M', "<a@b.example>\0"s).substr(0, 10), {}, WireError::none, true},
      {"packet, then part of the next", pkt('T') + "\0\0\0\3L"s, {{'T', ""}}, WireError::none, true},
      {"NUL command byte and binary data",
       pkt('\0', "\xff\x00\x01"s),
       {{'\0', "\xff\x00\x01"s}},
       WireError::none,
       false},
      // libmilter reads five bytes whatever the length says; this reader refuses it.
      {"length 0", "\0\0\0\0"s, {}, WireError::empty_packet, false},
      {"length 0 with bytes after it", "\0\0\0\0Qxyz"s, {}, WireError::empty_packet, false},
      {"good packet then length 0", pkt('A') + "\0\0\0\0"s, {{'A', ""}}, WireError::empty_packet, false},
      {"length one above the limit, only the 4 length bytes",
       be32(static_cast<std::uint32_t>(limits::milter_packet_max + 1)),
       {},
       WireError::packet_too_large,
       false},
      {"length 0xffffffff", "\xff\xff\xff\xff"s, {}, WireError::packet_too_large, false},
      {"length 2^31", "\x80\0\0\0"s, {}, WireError::packet_too_large, false},
      {"length at the limit is waited for", max_header + "O", {}, WireError::none, true},
      {"Postfix session",
       postfix_session(),
       {{'O', optneg_data(6, kPostfixActions, kPostfixProtocol)},
        {'D', "Cj\0mx.example\0{daemon_name}\0mx.example\0v\0Postfix 3.7.11\0"s},
        {'C', "client.example\0"s + "4" + be16(54321) + "192.0.2.1\0"s},
        {'D', "H{tls_version}\0TLSv1.3\0"s},
        {'D',
         "Mi\0"
         "4Xk1Lq0zQbz9t\0{auth_authen}\0alice\0{mail_addr}\0a@clinic.example\0"s},
        {'M', "<a@clinic.example>\0SIZE=1234\0BODY=8BITMIME\0"s},
        {'D', "R{rcpt_addr}\0b@partner.test\0"s},
        {'R', "<b@partner.test>\0"s},
        {'D', "T"},
        {'T', ""},
        {'D', "L"},
        {'L', "Subject\0hello\0"s},
        {'D', "E"},
        {'E', ""},
        {'Q', ""}},
       WireError::none,
       false},
  };
  for (const ReaderCase& c : cases) {
    SCOPED_TRACE(c.name);
    const Outcome want{c.packets, c.error, c.mid_packet};
    const std::string_view in(c.input);
    EXPECT_EQ(read_all({in}), want);
    // Split in two at every byte boundary, and fed one byte at a time: the same packets.
    for (std::size_t k = 0; k <= in.size(); ++k) {
      SCOPED_TRACE("split at " + std::to_string(k));
      ASSERT_EQ(read_all({in.substr(0, k), in.substr(k)}), want);
    }
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < in.size(); ++i) bytes.push_back(in.substr(i, 1));
    EXPECT_EQ(read_all(bytes), want);
  }
}

TEST(MilterWireReader, TooLargeKnownFromTheLengthAlone) {
  PacketReader r;
  const std::string len = be32(static_cast<std::uint32_t>(limits::milter_packet_max + 1));
  r.feed(len.substr(0, 3));
  EXPECT_EQ(r.next().status, Status::need_more);
  r.feed(len.substr(3));
  const auto n = r.next();
  EXPECT_EQ(n.status, Status::error);
  EXPECT_EQ(n.error, WireError::packet_too_large);
  EXPECT_FALSE(r.mid_packet());  // nothing of the refused packet is kept
}

TEST(MilterWireReader, PacketAtTheLimit) {
  const std::string data(limits::milter_packet_max - 1, 'x');
  PacketReader r;
  r.feed(pkt('B', data).substr(0, limits::milter_packet_max));
  EXPECT_EQ(r.next().status, Status::need_more);
  EXPECT_TRUE(r.mid_packet());
  r.feed(pkt('B', data).substr(limits::milter_packet_max));
  const auto n = r.next();
  ASSERT_EQ(n.status, Status::packet);
  EXPECT_EQ(n.packet.command, 'B');
  EXPECT_EQ(n.packet.data.size(), limits::milter_packet_max - 1);
  EXPECT_FALSE(r.mid_packet());
}

TEST(MilterWireReader, ErrorIsSticky) {
  PacketReader r;
  r.feed("\0\0\0\0"s);
  EXPECT_EQ(r.next().error, WireError::empty_packet);
  r.feed(pkt('Q'));
  const auto n = r.next();
  EXPECT_EQ(n.status, Status::error);
  EXPECT_EQ(n.error, WireError::empty_packet);
  EXPECT_EQ(r.next().status, Status::error);
}

TEST(MilterWireReader, DataViewsStayValidUntilTheNextFeed) {
  PacketReader r;
  r.feed(pkt('M', "<a@b.example>\0"s) + pkt('R', "<c@d.example>\0"s) + pkt('Q'));
  const auto a = r.next();
  const auto b = r.next();
  const auto c = r.next();
  ASSERT_EQ(a.status, Status::packet);
  ASSERT_EQ(b.status, Status::packet);
  ASSERT_EQ(c.status, Status::packet);
  EXPECT_EQ(r.next().status, Status::need_more);
  // All three views still point at their bytes (no feed since).
  EXPECT_EQ(a.packet.data, "<a@b.example>\0"s);
  EXPECT_EQ(b.packet.data, "<c@d.example>\0"s);
  EXPECT_EQ(c.packet.data, "");
  // A feed drops the returned packets; what follows is read correctly.
  r.feed(pkt('A'));
  const auto d = r.next();
  ASSERT_EQ(d.status, Status::packet);
  EXPECT_EQ(d.packet.command, 'A');
}

TEST(MilterWireReader, PartialPacketSurvivesFeeds) {
  const std::string p = pkt('L', "Subject\0hi\0"s);
  PacketReader r;
  r.feed(pkt('T') + p.substr(0, 6));
  const auto t = r.next();
  ASSERT_EQ(t.status, Status::packet);
  EXPECT_EQ(t.packet.command, 'T');
  EXPECT_EQ(r.next().status, Status::need_more);
  EXPECT_TRUE(r.mid_packet());
  r.feed(p.substr(6));
  const auto l = r.next();
  ASSERT_EQ(l.status, Status::packet);
  EXPECT_EQ(l.packet.data, "Subject\0hi\0"s);
  EXPECT_FALSE(r.mid_packet());
}

TEST(MilterWireReader, ErrorNames) {
  EXPECT_EQ(to_string(WireError::none), "no error");
  EXPECT_NE(to_string(WireError::empty_packet).find("length 0"), std::string_view::npos);
  EXPECT_NE(to_string(WireError::packet_too_large).find("larger"), std::string_view::npos);
}

// ---------------------------------------------------------------------------------------------
// Decoders

TEST(MilterWireDecode, Negotiation) {
  struct Case {
    const char* name;
    std::string data;
    std::optional<Negotiation> want;
  };
  const Case cases[] = {
      {"Postfix 3.7, milter_protocol = 6", optneg_data(6, kPostfixActions, kPostfixProtocol),
       Negotiation{6, kPostfixActions, kPostfixProtocol}},
      {"Postfix, milter_protocol = 2", optneg_data(2, kPostfixActions, 0x7f),
       Negotiation{2, kPostfixActions, 0x7f}},
      {"Sendmail 8.17 (SMFI_CURR_*, 1 MiB data size)",
       optneg_data(SMFI_PROT_VERSION, SMFI_CURR_ACTS, SMFI_CURR_PROT | SMFIP_MDS_1M),
       Negotiation{SMFI_PROT_VERSION, SMFI_CURR_ACTS, SMFI_CURR_PROT | SMFIP_MDS_1M}},
      {"all bits", optneg_data(0xffffffff, 0xffffffff, 0xffffffff),
       Negotiation{0xffffffff, 0xffffffff, 0xffffffff}},
      // A filter's reply may carry macro lists after the 12 bytes (SMFIF_SETSYMLIST).
      {"trailing bytes ignored", optneg_data(6, 1, 2) + be32(SMFIM_ENVFROM) + "{auth_authen}\0"s,
       Negotiation{6, 1, 2}},
      {"11 bytes", optneg_data(6, 1, 2).substr(0, 11), std::nullopt},
      {"4 bytes (a version only)", be32(6), std::nullopt},
      {"empty", "", std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const auto got = decode_negotiation(c.data);
    ASSERT_EQ(got.has_value(), c.want.has_value());
    if (!got) continue;
    EXPECT_EQ(got->version, c.want->version);
    EXPECT_EQ(got->actions, c.want->actions);
    EXPECT_EQ(got->protocol, c.want->protocol);
  }
}

TEST(MilterWireDecode, Strings) {
  using V = std::vector<std::string_view>;
  struct Case {
    const char* name;
    std::string data;
    std::optional<V> want;
  };
  const Case cases[] = {
      {"MAIL, address only", "<a@b.example>\0"s, V{"<a@b.example>"}},
      {"MAIL with ESMTP args (Postfix and Sendmail: one string each)",
       "<a@clinic.example>\0SIZE=1234\0BODY=8BITMIME\0"s,
       V{"<a@clinic.example>", "SIZE=1234", "BODY=8BITMIME"}},
      {"null sender", "<>\0"s, V{"<>"}},
      {"SMTPUTF8 address", "<j\xc3\xb6rg@b\xc3\xbc.example>\0SMTPUTF8\0"s,
       V{"<j\xc3\xb6rg@b\xc3\xbc.example>", "SMTPUTF8"}},
      {"RCPT with NOTIFY and ORCPT", "<b@x.test>\0NOTIFY=SUCCESS,FAILURE\0ORCPT=rfc822;b@x.test\0"s,
       V{"<b@x.test>", "NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;b@x.test"}},
      {"one empty string", "\0"s, V{""}},
      {"empty strings", "a\0\0\0"s, V{"a", "", ""}},
      {"empty", "", std::nullopt},
      {"no NUL", "<a@b.example>", std::nullopt},
      {"last string unterminated", "<a@b.example>\0SIZE=1"s, std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const auto got = decode_strings(c.data);
    ASSERT_EQ(got.has_value(), c.want.has_value());
    if (got) {
      EXPECT_EQ(*got, *c.want);
    }
  }
}

TEST(MilterWireDecode, Macros) {
  using V = std::vector<std::pair<std::string_view, std::string_view>>;
  struct Case {
    const char* name;
    std::string data;
    bool ok;
    char stage;
    V values;
  };
  const Case cases[] = {
      {"Postfix connect macros",
       "Cj\0mx.example\0{daemon_name}\0mx.example\0v\0Postfix 3.7.11\0"s,
       true,
       SMFIC_CONNECT,
       {{"j", "mx.example"}, {"{daemon_name}", "mx.example"}, {"v", "Postfix 3.7.11"}}},
      {"MAIL macros with a SASL login",
       "M{auth_type}\0PLAIN\0{auth_authen}\0alice\0i\0"
       "4Xk1Lq0zQbz9t\0"s,
       true,
       SMFIC_MAIL,
       {{"{auth_type}", "PLAIN"}, {"{auth_authen}", "alice"}, {"i", "4Xk1Lq0zQbz9t"}}},
      // Sendmail sends the stage byte alone when none of the stage's macros has a value, and
      // Postfix when the stage's macro list is empty (libmilter ignores such a packet).
      {"stage byte only", "M", true, SMFIC_MAIL, {}},
      {"end-of-message stage only", "E", true, SMFIC_BODYEOB, {}},
      {"empty value", "Mi\0\0"s, true, SMFIC_MAIL, {{"i", ""}}},
      {"empty name", "R\0v\0"s, true, SMFIC_RCPT, {{"", "v"}}},
      {"empty", "", false, 0, {}},
      {"odd list (a name without value)", "Mi\0"s, false, 0, {}},
      {"unterminated", "Mi\0QID"s, false, 0, {}},
      {"no NUL at all", "Mi", false, 0, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const auto got = decode_macros(c.data);
    ASSERT_EQ(got.has_value(), c.ok);
    if (!got) continue;
    EXPECT_EQ(got->stage, c.stage);
    EXPECT_EQ(got->values, c.values);
  }
}

TEST(MilterWireDecode, Connect) {
  struct Case {
    const char* name;
    std::string data;
    bool ok;
    std::string_view hostname;
    char family;
    std::uint16_t port;
    std::string_view address;
  };
  const Case cases[] = {
      {"Postfix IPv4", "client.example\0"s + "4" + be16(54321) + "192.0.2.1\0"s, true, "client.example",
       SMFIA_INET, 54321, "192.0.2.1"},
      // Postfix turns an unknown client name into "[address]".
      {"Postfix IPv4, no reverse name", "[192.0.2.1]\0"s + "4" + be16(25) + "192.0.2.1\0"s, true,
       "[192.0.2.1]", SMFIA_INET, 25, "192.0.2.1"},
      {"IPv6", "v6.example\0"s + "6" + be16(0x1234) + "2001:db8::1\0"s, true, "v6.example", SMFIA_INET6,
       0x1234, "2001:db8::1"},
      {"port 65535", "h\0"s + "4" + be16(0xffff) + "192.0.2.9\0"s, true, "h", SMFIA_INET, 0xffff,
       "192.0.2.9"},
      // Postfix and Sendmail send a local client with port 0 and the socket path/address.
      {"unix socket", "localhost\0"s + "L" + be16(0) + "/var/run/sendmail.sock\0"s, true, "localhost",
       SMFIA_UNIX, 0, "/var/run/sendmail.sock"},
      {"unix, empty path", "localhost\0"s + "L" + be16(0) + "\0"s, true, "localhost", SMFIA_UNIX, 0, ""},
      // Family unknown: neither port nor address follows (Postfix, Sendmail).
      {"unknown family", "localhost\0U"s, true, "localhost", SMFIA_UNKNOWN, 0, ""},
      {"empty hostname, unknown family", "\0U"s, true, "", SMFIA_UNKNOWN, 0, ""},
      {"unknown family with bytes after it", "localhost\0U\0"s, false, "", 0, 0, ""},
      {"unknown family letter", "h\0"s + "X" + be16(25) + "192.0.2.1\0"s, false, "", 0, 0, ""},
      {"no family", "client.example\0"s, false, "", 0, 0, ""},
      {"hostname unterminated", "client.example", false, "", 0, 0, ""},
      {"empty", "", false, "", 0, 0, ""},
      {"no port",
       "h\0"
       "4"s,
       false, "", 0, 0, ""},
      {"one port byte",
       "h\0"
       "4\0"s,
       false, "", 0, 0, ""},
      {"port, no address", "h\0"s + "4" + be16(25), false, "", 0, 0, ""},
      {"address unterminated", "h\0"s + "4" + be16(25) + "192.0.2.1", false, "", 0, 0, ""},
      {"bytes after the address", "h\0"s + "4" + be16(25) + "192.0.2.1\0x\0"s, false, "", 0, 0, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const auto got = decode_connect(c.data);
    ASSERT_EQ(got.has_value(), c.ok);
    if (!got) continue;
    EXPECT_EQ(got->hostname, c.hostname);
    EXPECT_EQ(got->family, c.family);
    EXPECT_EQ(got->port, c.port);
    EXPECT_EQ(got->address, c.address);
  }
}

TEST(MilterWireDecode, Header) {
  struct Case {
    const char* name;
    std::string data;
    bool ok;
    std::string_view header_name;
    std::string_view value;
  };
  const Case cases[] = {
      // Postfix and Sendmail drop the one space after the colon (without SMFIP_HDR_LEADSPC).
      {"Subject", "Subject\0hello\0"s, true, "Subject", "hello"},
      {"TLS-Required", "TLS-Required\0No\0"s, true, "TLS-Required", "No"},
      {"with SMFIP_HDR_LEADSPC", "TLS-Required\0 No\0"s, true, "TLS-Required", " No"},
      {"empty value", "Subject\0\0"s, true, "Subject", ""},
      // Folded headers come as lines separated by a bare newline.
      {"folded", "Received\0from a.example\n\tby b.example\0"s, true, "Received",
       "from a.example\n\tby b.example"},
      {"8-bit value",
       "Subject\0gr\xc3\xbc\xc3\x9f"
       "e\0"s,
       true, "Subject",
       "gr\xc3\xbc\xc3\x9f"
       "e"},
      {"name only", "Subject\0"s, false, "", ""},
      {"three strings", "Subject\0a\0b\0"s, false, "", ""},
      {"value unterminated", "Subject\0hello"s, false, "", ""},
      {"no NUL", "Subject", false, "", ""},
      {"empty", "", false, "", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const auto got = decode_header(c.data);
    ASSERT_EQ(got.has_value(), c.ok);
    if (!got) continue;
    EXPECT_EQ(got->name, c.header_name);
    EXPECT_EQ(got->value, c.value);
  }
}

// ---------------------------------------------------------------------------------------------
// Encoders

TEST(MilterWireEncode, Packet) {
  EXPECT_EQ(encode_packet(SMFIR_CONTINUE), "\0\0\0\1c"s);
  EXPECT_EQ(encode_packet(SMFIR_ACCEPT), "\0\0\0\1a"s);
  EXPECT_EQ(encode_packet('x', "abc"), "\0\0\0\4xabc"s);
  EXPECT_EQ(encode_packet('x', "\0\0"s), "\0\0\0\3x\0\0"s);
  const std::string big(300, 'z');
  EXPECT_EQ(encode_packet('B', big), "\0\0\x01\x2d"s + "B" + big);
}

TEST(MilterWireEncode, NegotiationRoundTrip) {
  const Negotiation sent{
      6, SMFIF_ADDHDRS,
      SMFIP_NOHELO | SMFIP_NOBODY | SMFIP_NOEOH | SMFIP_NOUNKNOWN | SMFIP_NR_CONN | SMFIP_NR_MAIL};
  const std::string bytes = encode_negotiation(sent);
  EXPECT_EQ(bytes, pkt('O', optneg_data(sent.version, sent.actions, sent.protocol)));
  PacketReader r;
  r.feed(bytes);
  const auto n = r.next();
  ASSERT_EQ(n.status, Status::packet);
  EXPECT_EQ(n.packet.command, SMFIC_OPTNEG);
  const auto got = decode_negotiation(n.packet.data);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->version, sent.version);
  EXPECT_EQ(got->actions, sent.actions);
  EXPECT_EQ(got->protocol, sent.protocol);
  EXPECT_EQ(r.next().status, Status::need_more);
}

TEST(MilterWireEncode, ReplyCode) {
  struct Case {
    const char* name;
    std::string code, dsn, text;
    std::string data;  // the packet's data
  };
  const Case cases[] = {
      {"defer", "451", "4.7.5", "DNSSEC validation failed", "451 4.7.5 DNSSEC validation failed\0"s},
      {"reject", "550", "5.7.5", "refused", "550 5.7.5 refused\0"s},
      {"CR LF become spaces", "451", "4.7.5", "a\r\nb", "451 4.7.5 a  b\0"s},
      {"NUL becomes a space", "451", "4.7.5", "a\0b"s, "451 4.7.5 a b\0"s},
      {"other control bytes and DEL", "451", "4.7.5",
       "a\tb\x01"
       "c\x7f",
       "451 4.7.5 a b c \0"s},
      {"percent doubled", "451", "4.3.5", "100% sure, %s", "451 4.3.5 100%% sure, %%s\0"s},
      {"control bytes in code and dsn", "45\n1", "4.7\r.5", "x", "45 1 4.7 .5 x\0"s},
      {"8-bit text kept", "550", "5.7.5", "b\xc3\xbc.example", "550 5.7.5 b\xc3\xbc.example\0"s},
      {"empty text", "451", "4.3.5", "", "451 4.3.5 \0"s},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string bytes = encode_reply_code(c.code, c.dsn, c.text);
    EXPECT_EQ(bytes, pkt(SMFIR_REPLYCODE, c.data));
    // One NUL, the last byte: the MTA reads the text to its end.
    EXPECT_EQ(bytes.find('\0', 5), bytes.size() - 1);
  }
}

TEST(MilterWireEncode, AddHeader) {
  EXPECT_EQ(encode_add_header("X-TLSfence", "forced-tls"), pkt(SMFIR_ADDHEADER, "X-TLSfence\0forced-tls\0"s));
  EXPECT_EQ(encode_add_header("X-A", ""), pkt(SMFIR_ADDHEADER, "X-A\0\0"s));
  // A NUL inside the name or value cuts it there (the layout has no room for one).
  EXPECT_EQ(encode_add_header("X-A\0B"s, "v\0w"s), pkt(SMFIR_ADDHEADER, "X-A\0v\0"s));
  // What the MTA's reader (decode_header's layout) gets back.
  PacketReader r;
  r.feed(encode_add_header("X-TLSfence", "forced-tls"));
  const auto n = r.next();
  ASSERT_EQ(n.status, Status::packet);
  EXPECT_EQ(n.packet.command, SMFIR_ADDHEADER);
  const auto h = decode_header(n.packet.data);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->name, "X-TLSfence");
  EXPECT_EQ(h->value, "forced-tls");
}

}  // namespace
}  // namespace tlsfence::parse::milter
