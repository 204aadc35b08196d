// NativeMilterDoor over a real socket pair: the door serves one end on an io_context, the test
// plays the MTA on the other with hand-encoded packets (parse/milter_wire.h) and reads the
// replies with PacketReader. Covers what the miltertest scripts (tests/integration/milter)
// cannot see: the negotiated flags, that no-reply steps put no byte on the wire, protocol
// errors closing the connection, QUIT_NC, a close mid-packet, the idle timeout and a reload
// between messages.
// g++ 12 misreads Boost 1.74 awaitable frames' sized operator delete (false positive).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include "doors/milter/native.h"

#include <gtest/gtest.h>
#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "async/asio.h"
#include "parse/milter_wire.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/write.hpp>

namespace tlsfence::milter {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
namespace wire = parse::milter;
using Socket = asio::generic::stream_protocol::socket;

// bogus.test → temp_fail dnssec-invalid; slow.test → no policy after 300 ms; else no policy.
class TableLookup final : public PolicyLookup {
 public:
  Task<PolicyDecision> decide(std::string next_hop) override {
    PolicyDecision d;
    d.domain = next_hop;
    if (next_hop == "bogus.test") {
      d.verdict = Verdict::temp_fail;
      d.result_type = "dnssec-invalid";
      d.mx_dnssec = DnssecState::bogus;
      d.temp_reason = "DNSSEC validation of bogus.test MX failed";
    } else if (next_hop == "slow.test") {
      asio::steady_timer t(co_await asio::this_coro::executor);
      t.expires_after(300ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    co_return d;
  }
};

// ---------------------------------------------------------------------------------------------
// Packets as an MTA sends them

constexpr std::uint32_t kKnownSteps = SMFIP_NOHELO | SMFIP_NOBODY | SMFIP_NOEOH | SMFIP_NOUNKNOWN;
// Postfix 3.7 (milter_protocol = 6) and Sendmail 8.17 offer every step flag: SMFI_CURR_PROT.
constexpr std::uint32_t kPostfixProtocol = SMFI_CURR_PROT;

std::string optneg(std::uint32_t version = 6, std::uint32_t actions = SMFI_CURR_ACTS,
                   std::uint32_t protocol = kPostfixProtocol) {
  return wire::encode_negotiation({version, actions, protocol});
}

// "a\0b\0…" (variadic rather than an initializer list: g++ 12 cannot keep a braced list's
// array alive across a co_await).
template <typename... S>
std::string strings(const S&... s) {
  std::string out;
  ((out += std::string(s) + '\0'), ...);
  return out;
}

std::string connect4(const std::string& ip) {
  return wire::encode_packet(SMFIC_CONNECT, "client.example\0"s + "4" + "\xd4\x31"s + ip + '\0');
}
std::string connect_unknown() {
  return wire::encode_packet(SMFIC_CONNECT, "localhost\0U"s);
}
template <typename... S>
std::string macros(char stage, const S&... pairs) {
  return wire::encode_packet(SMFIC_MACRO, std::string(1, stage) + strings(pairs...));
}
std::string mail(const std::string& sender) {
  return wire::encode_packet(SMFIC_MAIL, strings("<" + sender + ">", "SIZE=100"));
}
std::string rcpt(const std::string& recipient) {
  return wire::encode_packet(SMFIC_RCPT, strings("<" + recipient + ">"));
}
std::string header(const std::string& name, const std::string& value) {
  return wire::encode_packet(SMFIC_HEADER, strings(name, value));
}
const std::string kData = wire::encode_packet(SMFIC_DATA);
const std::string kEom = wire::encode_packet(SMFIC_BODYEOB);
const std::string kQuit = wire::encode_packet(SMFIC_QUIT);
const std::string kQuitNc = wire::encode_packet(SMFIC_QUIT_NC);

struct Reply {
  char command = 0;
  std::string data;
};

// ---------------------------------------------------------------------------------------------
// The MTA's end

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Mta {
 public:
  explicit Mta(Socket s) : socket_(std::move(s)) {}

  Task<void> send(std::string bytes) {
    co_await asio::async_write(socket_, asio::buffer(bytes), asio::use_awaitable);
  }

  // The next reply packet; throws Failure when the door closes first.
  Task<Reply> recv() {
    while (pending_.empty()) {
      if (!co_await read_more()) throw Failure("the door closed the connection, a reply was expected");
    }
    Reply r = std::move(pending_.front());
    pending_.pop_front();
    co_return r;
  }

  Task<void> expect(char command, const std::string& what) {
    const Reply r = co_await recv();
    if (r.command != command) {
      throw Failure(what + ": reply '" + std::string(1, r.command) + "', want '" + std::string(1, command) +
                    "'");
    }
  }

  // Sends `bytes` (steps the door must not answer) and checks that no byte comes back within
  // `quiet`.
  Task<void> send_unanswered(std::string bytes, const std::string& what) {
    co_await send(std::move(bytes));
    co_await expect_silence(what);
  }

  Task<void> expect_silence(const std::string& what, std::chrono::milliseconds quiet = 40ms) {
    asio::steady_timer t(socket_.get_executor());
    t.expires_after(quiet);
    co_await t.async_wait(asio::use_awaitable);
    if (!pending_.empty() || socket_.available() != 0 || reader_.mid_packet()) {
      throw Failure(what + ": the door answered a step it must not answer");
    }
  }

  // Reads until the door closes its end (EOF, or a reset when it left bytes unread); replies
  // before that are dropped. Returns the replies that came first.
  Task<std::vector<Reply>> until_closed() {
    while (co_await read_more()) {
    }
    std::vector<Reply> out(pending_.begin(), pending_.end());
    pending_.clear();
    co_return out;
  }

  void close() {
    boost::system::error_code ec;
    socket_.close(ec);
  }

 private:
  // One read; false on EOF/reset.
  Task<bool> read_more() {
    std::array<char, 4096> buffer;
    boost::system::error_code ec;
    const std::size_t n =
        co_await socket_.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return false;
    reader_.feed(std::string_view(buffer.data(), n));
    for (auto r = reader_.next(); r.status != wire::PacketReader::Status::need_more; r = reader_.next()) {
      if (r.status == wire::PacketReader::Status::error) throw Failure("the door sent a malformed packet");
      pending_.push_back(Reply{r.packet.command, std::string(r.packet.data)});
    }
    co_return true;
  }

  Socket socket_;
  wire::PacketReader reader_;
  std::deque<Reply> pending_;
};

// ---------------------------------------------------------------------------------------------
// Fixture: one io_context, the door, a body coroutine with a deadline

Config::Reception forced_reception() {
  Config::Reception r;
  r.forced_tls_sender = {"@clinic.example"};
  r.forced_tls_sasl_user = {"alice"};
  r.forced_tls_client_network = {"192.0.2.0/24"};
  r.forced_tls_recipient_domain = {"partner.test"};
  return r;
}

class NativeDoor : public ::testing::Test {
 protected:
  // A door with the given [reception] settings (`wait` shortened for the tests).
  NativeMilterDoor& make_door(Config::Reception reception = {}, std::chrono::milliseconds wait = 1000ms) {
    auto options = policy::ReceptionOptions::from_config(reception);
    options.wait = wait;
    door_ = std::make_unique<NativeMilterDoor>(lookup_, options, policy::ForcedTls::from_config(reception));
    return *door_;
  }

  // A new MTA connection to the door (a socketpair; the door serves its end).
  Mta connect() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      throw std::system_error(errno, std::generic_category(), "socketpair");
    }
    const asio::generic::stream_protocol unix_stream(AF_UNIX, SOCK_STREAM);
    Socket door_end(io_, unix_stream, fds[0]);
    Socket mta_end(io_, unix_stream, fds[1]);
    asio::co_spawn(io_, door_->serve(std::move(door_end)), asio::detached);
    return Mta(std::move(mta_end));
  }

  // Runs `body` on the io_context until it and every connection it opened have ended; a
  // body still running after `deadline` fails the test.
  void run(std::function<Task<void>()> body, std::chrono::seconds deadline = 5s) {
    io_.restart();
    bool done = false;
    std::string error;
    asio::steady_timer guard(io_);
    guard.expires_after(deadline);
    guard.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) {
        error = "the test did not finish in time";
        io_.stop();
      }
    });
    asio::co_spawn(io_, body(), [&](std::exception_ptr e) {
      done = true;
      guard.cancel();
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        error = x.what();
      }
    });
    io_.run();
    EXPECT_TRUE(done);
    EXPECT_EQ(error, "");
  }

  Task<void> sleep(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(d);
    co_await t.async_wait(asio::use_awaitable);
  }

  // Waits (a little) for the door to free every connection.
  Task<void> until_no_connection_open() {
    for (int i = 0; i < 200 && door_->stats().connections_open != 0; ++i) co_await sleep(5ms);
  }

  // Negotiates like Postfix 3.7 and returns the door's answer.
  Task<wire::Negotiation> negotiate(Mta& mta, std::string offer = optneg()) {
    co_await mta.send(std::move(offer));
    const Reply r = co_await mta.recv();
    if (r.command != SMFIC_OPTNEG) throw Failure("negotiation: reply " + std::string(1, r.command));
    const auto n = wire::decode_negotiation(r.data);
    if (!n || r.data.size() != 12) throw Failure("negotiation: malformed reply");
    co_return *n;
  }

  asio::io_context io_;
  TableLookup lookup_;
  std::unique_ptr<NativeMilterDoor> door_;
};

// ---------------------------------------------------------------------------------------------
// (a) negotiation

TEST_F(NativeDoor, NegotiationReply) {
  struct Case {
    const char* name;
    bool forced_rules;
    std::uint32_t version, actions, protocol;                 // offered
    std::uint32_t want_version, want_actions, want_protocol;  // answered
  };
  const std::uint32_t nr_all = SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_HDR | SMFIP_NR_HELO | SMFIP_NR_RCPT |
                               SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_EOH | SMFIP_NR_BODY;
  const Case cases[] = {
      {"Postfix, no forced rules", false, 6, SMFI_CURR_ACTS, kPostfixProtocol, 6, SMFIF_ADDHDRS,
       kKnownSteps | SMFIP_NOHDRS | SMFIP_NR_CONN | SMFIP_NR_MAIL},
      {"Postfix, forced rules", true, 6, SMFI_CURR_ACTS, kPostfixProtocol, 6, SMFIF_ADDHDRS,
       kKnownSteps | SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_HDR},
      {"Sendmail with the 1 MiB flag", true, 6, SMFI_CURR_ACTS, SMFI_CURR_PROT | SMFIP_MDS_1M, 6,
       SMFIF_ADDHDRS, kKnownSteps | SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_HDR},
      {"newer MTA version", false, 7, SMFI_CURR_ACTS, kPostfixProtocol, 6, SMFIF_ADDHDRS,
       kKnownSteps | SMFIP_NOHDRS | SMFIP_NR_CONN | SMFIP_NR_MAIL},
      // Postfix milter_protocol = 2: the v2 step flags only, no no-reply flags.
      {"protocol version 2", false, 2, SMFI_V2_ACTS, SMFI_V2_PROT, 2, SMFIF_ADDHDRS,
       SMFIP_NOHELO | SMFIP_NOBODY | SMFIP_NOEOH | SMFIP_NOHDRS},
      {"no step flags offered", true, 6, SMFI_CURR_ACTS, 0, 6, SMFIF_ADDHDRS, 0},
      {"no-reply flags only", true, 6, SMFI_CURR_ACTS, nr_all, 6, SMFIF_ADDHDRS,
       SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_HDR},
      {"no-reply flags only, no forced rules", false, 6, SMFI_CURR_ACTS, nr_all, 6, SMFIF_ADDHDRS,
       SMFIP_NR_CONN | SMFIP_NR_MAIL},
      {"adding headers not allowed", true, 6, SMFIF_CHGBODY | SMFIF_QUARANTINE, kPostfixProtocol, 6, 0,
       kKnownSteps | SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_HDR},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    make_door(c.forced_rules ? forced_reception() : Config::Reception{});
    run([&]() -> Task<void> {
      Mta mta = connect();
      const auto n = co_await negotiate(mta, optneg(c.version, c.actions, c.protocol));
      EXPECT_EQ(n.version, c.want_version);
      EXPECT_EQ(n.actions, c.want_actions);
      EXPECT_EQ(n.protocol, c.want_protocol) << std::hex << n.protocol << " want " << c.want_protocol;
      co_await mta.send(kQuit);
      co_await mta.until_closed();
    });
    EXPECT_EQ(door_->stats().protocol_errors, 0u);
    EXPECT_EQ(door_->stats().connections_open, 0u);
  }
}

TEST_F(NativeDoor, NoReplyStepsPutNoByteOnTheWire) {
  make_door(forced_reception());
  run([&]() -> Task<void> {
    Mta mta = connect();
    co_await negotiate(mta);
    // Postfix sends each stage's macros, then the step (or not, for steps left out).
    co_await mta.send_unanswered(macros('C', "j", "mx.example", "{daemon_name}", "mx"), "connect macros");
    co_await mta.send_unanswered(connect4("203.0.113.5"), "connect (NR_CONN)");
    co_await mta.send_unanswered(macros('H'), "HELO macros");
    co_await mta.send_unanswered(macros('M', "i", "QID1"), "MAIL macros");
    co_await mta.send_unanswered(mail("bob@elsewhere.example"), "MAIL (NR_MAIL)");
    co_await mta.send(rcpt("carol@elsewhere.example"));
    co_await mta.expect(SMFIR_CONTINUE, "RCPT");
    co_await mta.expect_silence("after RCPT: one reply only");
    co_await mta.send(kData);
    co_await mta.expect(SMFIR_ACCEPT, "DATA of an unforced message");
    co_await mta.expect_silence("after DATA: one reply only");
    co_await mta.send(kQuit);
    co_await mta.until_closed();
  });
  EXPECT_EQ(door_->stats().messages, 1u);
  EXPECT_EQ(door_->stats().recipients, 1u);
}

// ---------------------------------------------------------------------------------------------
// (b) forced sender with no-reply steps, (c) unforced message

TEST_F(NativeDoor, ForcedSenderWithNoReplySteps) {
  make_door(forced_reception());
  run([&]() -> Task<void> {
    Mta mta = connect();
    co_await negotiate(mta);
    co_await mta.send_unanswered(connect4("203.0.113.5"), "connect");
    // A forced sender whose message says TLS-Required: No: continue, no header.
    co_await mta.send_unanswered(macros('M', "i", "QID1") + mail("a@clinic.example"), "MAIL");
    co_await mta.send(rcpt("b@elsewhere.example"));
    co_await mta.expect(SMFIR_CONTINUE, "RCPT");
    co_await mta.send(kData);
    co_await mta.expect(SMFIR_CONTINUE, "DATA of a forced message");
    co_await mta.send_unanswered(header("Subject", "hello") + header("TLS-Required", "No"),
                                 "headers (NR_HDR)");
    co_await mta.send(kEom);
    co_await mta.expect(SMFIR_CONTINUE, "end of message");
    co_await mta.expect_silence("after end of message: 'c' only, no header added");

    // The next message of the same sender, without that header: the header is added.
    co_await mta.send_unanswered(macros('M', "i", "QID2") + mail("a@clinic.example"), "MAIL 2");
    co_await mta.send(rcpt("b@elsewhere.example"));
    co_await mta.expect(SMFIR_CONTINUE, "RCPT 2");
    co_await mta.send(kData);
    co_await mta.expect(SMFIR_CONTINUE, "DATA 2");
    co_await mta.send_unanswered(header("Subject", "hello again"), "header 2");
    co_await mta.send(kEom);
    const Reply h = co_await mta.recv();
    EXPECT_EQ(h.command, SMFIR_ADDHEADER);
    EXPECT_EQ(h.data, "X-TLSfence\0forced-tls\0"s);
    co_await mta.expect(SMFIR_CONTINUE, "end of message 2");
    co_await mta.expect_silence("after end of message 2");
    co_await mta.send(kQuit);
    co_await mta.until_closed();
  });
  const auto s = door_->stats();
  EXPECT_EQ(s.messages, 2u);
  EXPECT_EQ(s.forced, 1u);
  EXPECT_EQ(s.tls_required_no, 1u);
  EXPECT_EQ(s.internal_errors, 0u);
}

TEST_F(NativeDoor, UnforcedMessageAcceptedAtData) {
  for (const bool rules : {false, true}) {
    SCOPED_TRACE(rules ? "forced rules exist" : "no forced rules");
    make_door(rules ? forced_reception() : Config::Reception{});
    run([&]() -> Task<void> {
      Mta mta = connect();
      co_await negotiate(mta, optneg(6, SMFI_CURR_ACTS, 0));  // every step answered
      co_await mta.send(connect4("203.0.113.5"));
      co_await mta.expect(SMFIR_CONTINUE, "connect");
      co_await mta.send(mail("bob@elsewhere.example"));
      co_await mta.expect(SMFIR_CONTINUE, "MAIL");
      co_await mta.send(rcpt("carol@other.example"));
      co_await mta.expect(SMFIR_CONTINUE, "RCPT");
      co_await mta.send(kData);
      co_await mta.expect(SMFIR_ACCEPT, "DATA");
      co_await mta.send(kQuit);
      co_await mta.until_closed();
    });
    EXPECT_EQ(door_->stats().forced, 0u);
  }
}

// ---------------------------------------------------------------------------------------------
// (d) DNSSEC-bogus recipient domain

TEST_F(NativeDoor, BogusRecipientDeferredOrRejected) {
  struct Case {
    BogusAction action;
    const char* prefix;
  };
  for (const Case c : {Case{BogusAction::defer, "451 4.7.5 "}, Case{BogusAction::reject, "550 5.7.5 "}}) {
    SCOPED_TRACE(c.prefix);
    Config::Reception reception;
    reception.on_dnssec_bogus = c.action;
    make_door(reception);
    run([&]() -> Task<void> {
      Mta mta = connect();
      co_await negotiate(mta);
      co_await mta.send_unanswered(connect4("203.0.113.5") + mail("a@elsewhere.example"), "connect, MAIL");
      co_await mta.send(rcpt("x@bogus.test"));
      const Reply r = co_await mta.recv();
      EXPECT_EQ(r.command, SMFIR_REPLYCODE);
      EXPECT_EQ(r.data.rfind(c.prefix, 0), 0u) << r.data;
      EXPECT_NE(r.data.find("bogus.test"), std::string::npos) << r.data;
      EXPECT_EQ(r.data.back(), '\0');
      co_await mta.send(rcpt("y@fine.example"));
      co_await mta.expect(SMFIR_CONTINUE, "RCPT of a domain with no policy");
      co_await mta.send(kQuit);
      co_await mta.until_closed();
    });
    EXPECT_EQ(door_->stats().refused, 1u);
    EXPECT_EQ(door_->stats().recipients, 2u);
  }
}

TEST_F(NativeDoor, SlowLookupAnsweredAfterTheWait) {
  Config::Reception reception;
  reception.on_dnssec_bogus = BogusAction::defer;
  make_door(reception, 50ms);
  run([&]() -> Task<void> {
    Mta mta = connect();
    co_await negotiate(mta);
    co_await mta.send_unanswered(connect4("203.0.113.5") + mail("a@elsewhere.example"), "connect, MAIL");
    const auto start = std::chrono::steady_clock::now();
    co_await mta.send(rcpt("x@slow.test"));
    co_await mta.expect(SMFIR_CONTINUE, "RCPT of a slow domain");
    EXPECT_LT(std::chrono::steady_clock::now() - start, 250ms);
    co_await mta.send(kQuit);
    co_await mta.until_closed();
  });
  EXPECT_EQ(door_->stats().lookups_late, 1u);
}

// ---------------------------------------------------------------------------------------------
// (e) protocol errors

TEST_F(NativeDoor, ProtocolErrorsCloseTheConnection) {
  // The stream cannot go on: bad framing, no (or a second) negotiation, a command whose reply
  // rule is unknown.
  struct Case {
    const char* name;
    bool negotiate_first;
    std::string bytes;
  };
  const std::string too_large = "\x00\x10\x00\x01"s;  // 1 MiB + 1
  const Case cases[] = {
      {"first packet not a negotiation", false, connect4("203.0.113.5")},
      {"first packet a macro", false, macros('C', "j", "mx")},
      {"negotiation too short", false, wire::encode_packet(SMFIC_OPTNEG, "\0\0\0\6\0\0\0\1"s)},
      {"negotiation version 1", false, optneg(1)},
      {"length 0", true, "\0\0\0\0"s},
      {"length 0 before negotiation", false, "\0\0\0\0"s},
      {"length above the limit", true, too_large},
      {"unknown command Z", true, wire::encode_packet('Z', "x")},
      {"reply byte sent as a command", true, wire::encode_packet(SMFIR_CONTINUE)},
      {"second negotiation", true, optneg()},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    make_door(forced_reception());
    run([&]() -> Task<void> {
      Mta mta = connect();
      if (c.negotiate_first) co_await negotiate(mta);
      co_await mta.send(c.bytes);
      const auto replies = co_await mta.until_closed();
      EXPECT_TRUE(replies.empty()) << replies.size() << " replies before the close";
      co_await until_no_connection_open();
    });
    const auto s = door_->stats();
    EXPECT_EQ(s.protocol_errors, 1u);
    EXPECT_EQ(s.connections, 1u);
    EXPECT_EQ(s.connections_open, 0u);
    EXPECT_EQ(s.internal_errors, 0u);
  }
}

TEST_F(NativeDoor, MalformedPacketsTempfailTheSessionAndKeepTheConnection) {
  // A known command whose data lacks its layout: the framing is intact, so the connection
  // goes on, but no step of this SMTP session may pass (a lost client address, SASL name or
  // sender could drop a forced-TLS rule): the replying step answers 451 4.3.5, and so does
  // every later one until QUIT_NC starts a new session, which is served normally.
  struct Case {
    const char* name;
    std::string before;  // packets the door must not answer (Postfix-like no-reply steps)
    std::string bad;     // the malformed packet
    bool bad_replies;    // whether the malformed step itself answers
  };
  const Case cases[] = {
      {"malformed connect (no reply)", "", wire::encode_packet(SMFIC_CONNECT, "client.example\0X"s), false},
      {"connect without data (no reply)", "", wire::encode_packet(SMFIC_CONNECT), false},
      {"malformed macro (never answered)", connect4("203.0.113.5"), wire::encode_packet(SMFIC_MACRO, "Mi\0"s),
       false},
      {"MAIL without NUL (no reply)", connect4("203.0.113.5"),
       wire::encode_packet(SMFIC_MAIL, "<a@b.example>"), false},
      {"RCPT without data", connect4("203.0.113.5") + mail("a@b.example"), wire::encode_packet(SMFIC_RCPT),
       true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    make_door(forced_reception());
    run([&]() -> Task<void> {
      Mta mta = connect();
      co_await negotiate(mta);
      if (!c.before.empty()) co_await mta.send_unanswered(c.before, "steps before");
      if (c.bad_replies) {
        co_await mta.send(c.bad);
        const Reply r = co_await mta.recv();
        EXPECT_EQ(r.command, SMFIR_REPLYCODE);
        EXPECT_EQ(r.data.rfind("451 4.3.5 ", 0), 0u) << r.data;
      } else {
        co_await mta.send_unanswered(c.bad, "the malformed no-reply step");
        co_await mta.send_unanswered(mail("a@b.example"), "MAIL");
      }
      // The rest of the session tempfails: a well-formed RCPT to a harmless domain too.
      co_await mta.send(rcpt("x@fine.example"));
      const Reply later = co_await mta.recv();
      EXPECT_EQ(later.command, SMFIR_REPLYCODE);
      EXPECT_EQ(later.data.rfind("451 4.3.5 ", 0), 0u) << later.data;
      co_await mta.send(kData);
      const Reply data = co_await mta.recv();
      EXPECT_EQ(data.command, SMFIR_REPLYCODE) << "DATA must not be accepted";
      // A new SMTP session on the same connection is served normally.
      co_await mta.send_unanswered(kQuitNc + connect4("203.0.113.5") + mail("a@b.example"), "new session");
      co_await mta.send(rcpt("x@fine.example"));
      co_await mta.expect(SMFIR_CONTINUE, "RCPT in the new session");
      co_await mta.send(kQuit);
      co_await mta.until_closed();
      co_await until_no_connection_open();
    });
    const auto s = door_->stats();
    EXPECT_EQ(s.protocol_errors, 1u);
    EXPECT_EQ(s.connections_open, 0u);
    EXPECT_EQ(s.internal_errors, 0u);
  }
}

TEST_F(NativeDoor, MalformedHeaderTempfailsTheEndOfMessage) {
  make_door(forced_reception());
  run([&]() -> Task<void> {
    Mta mta = connect();
    co_await negotiate(mta);
    co_await mta.send_unanswered(connect4("203.0.113.5") + mail("a@clinic.example"), "connect, MAIL");
    co_await mta.send(rcpt("x@fine.example"));
    co_await mta.expect(SMFIR_CONTINUE, "RCPT");
    co_await mta.send(kData);
    co_await mta.expect(SMFIR_CONTINUE, "DATA of a forced message");
    co_await mta.send_unanswered(wire::encode_packet(SMFIC_HEADER, "TLS-Required\0"s),
                                 "malformed header (NR_HDR)");
    co_await mta.send(kEom);
    const Reply r = co_await mta.recv();
    EXPECT_EQ(r.command, SMFIR_REPLYCODE) << "no X-TLSfence decision may be made without the headers";
    EXPECT_EQ(r.data.rfind("451 4.3.5 ", 0), 0u) << r.data;
    co_await mta.send(kQuit);
    co_await mta.until_closed();
  });
  EXPECT_EQ(door_->stats().protocol_errors, 1u);
  EXPECT_EQ(door_->stats().forced, 0u);
}

// ---------------------------------------------------------------------------------------------
// (f) QUIT and QUIT_NC

TEST_F(NativeDoor, QuitCloses) {
  make_door();
  run([&]() -> Task<void> {
    Mta mta = connect();
    co_await negotiate(mta);
    // QUIT in the same write as a replying step: the reply still comes, then the close.
    co_await mta.send(connect4("203.0.113.5") + mail("a@b.example") + rcpt("c@d.example") + kQuit +
                      rcpt("never@read.example"));
    const auto replies = co_await mta.until_closed();
    EXPECT_EQ(replies.size(), 1u);
    if (!replies.empty()) {
      EXPECT_EQ(replies[0].command, SMFIR_CONTINUE);
    }
  });
  const auto s = door_->stats();
  EXPECT_EQ(s.protocol_errors, 0u);
  EXPECT_EQ(s.recipients, 1u);
  EXPECT_EQ(s.connections_open, 0u);
}

TEST_F(NativeDoor, QuitNcStartsAFreshSession) {
  make_door(forced_reception());
  run([&]() -> Task<void> {
    Mta mta = connect();
    co_await negotiate(mta, optneg(6, SMFI_CURR_ACTS, 0));  // every step answered
    // Session 1: a forced client network and a forced SASL user, mid-message at QUIT_NC.
    co_await mta.send(connect4("192.0.2.7"));
    co_await mta.expect(SMFIR_CONTINUE, "connect 1");
    co_await mta.send(macros('M', "{auth_authen}", "alice") + mail("x@elsewhere.example"));
    co_await mta.expect(SMFIR_CONTINUE, "MAIL 1");
    co_await mta.send(rcpt("y@elsewhere.example"));
    co_await mta.expect(SMFIR_CONTINUE, "RCPT 1");
    co_await mta.send_unanswered(kQuitNc, "QUIT_NC");
    // Session 2 on the same connection: a client of unknown address, no SASL macro. Nothing
    // of session 1 may force this message.
    co_await mta.send(connect_unknown());
    co_await mta.expect(SMFIR_CONTINUE, "connect 2");
    co_await mta.send(mail("x@elsewhere.example"));
    co_await mta.expect(SMFIR_CONTINUE, "MAIL 2");
    co_await mta.send(rcpt("y@elsewhere.example"));
    co_await mta.expect(SMFIR_CONTINUE, "RCPT 2");
    co_await mta.send(kData);
    co_await mta.expect(SMFIR_ACCEPT, "DATA 2: session 1's state must not force it");
    // Session 3 after another QUIT_NC: a forced client again works.
    co_await mta.send(kQuitNc + connect4("192.0.2.8"));
    co_await mta.expect(SMFIR_CONTINUE, "connect 3");
    co_await mta.send(mail("x@elsewhere.example"));
    co_await mta.expect(SMFIR_CONTINUE, "MAIL 3");
    co_await mta.send(rcpt("y@elsewhere.example"));
    co_await mta.expect(SMFIR_CONTINUE, "RCPT 3");
    co_await mta.send(kData);
    co_await mta.expect(SMFIR_CONTINUE, "DATA 3 (forced client)");
    co_await mta.send(kEom);
    co_await mta.expect(SMFIR_ADDHEADER, "end of message 3");
    co_await mta.expect(SMFIR_CONTINUE, "end of message 3");
    co_await mta.send(kQuit);
    co_await mta.until_closed();
  });
  const auto s = door_->stats();
  EXPECT_EQ(s.connections, 1u);
  EXPECT_EQ(s.messages, 3u);
  EXPECT_EQ(s.forced, 1u);
  EXPECT_EQ(s.protocol_errors, 0u);
}

// ---------------------------------------------------------------------------------------------
// (g) close mid-packet, (i) idle timeout

TEST_F(NativeDoor, ClientClosesMidPacket) {
  make_door();
  run([&]() -> Task<void> {
    Mta mta = connect();
    co_await negotiate(mta);
    co_await mta.send(mail("a@b.example").substr(0, 7));
    co_await sleep(10ms);
    EXPECT_EQ(door_->stats().connections_open, 1u);
    mta.close();
    co_await until_no_connection_open();
  });
  const auto s = door_->stats();
  EXPECT_EQ(s.connections, 1u);
  EXPECT_EQ(s.connections_open, 0u);
  EXPECT_EQ(s.internal_errors, 0u);
}

TEST_F(NativeDoor, ManyConnectionsAtOnce) {
  make_door(forced_reception());
  run([&]() -> Task<void> {
    std::vector<Mta> mtas;
    for (int i = 0; i < 8; ++i) mtas.push_back(connect());
    for (auto& m : mtas) co_await negotiate(m);
    EXPECT_EQ(door_->stats().connections_open, 8u);
    for (auto& m : mtas) co_await m.send(kQuit);
    for (auto& m : mtas) co_await m.until_closed();
  });
  EXPECT_EQ(door_->stats().connections, 8u);
  EXPECT_EQ(door_->stats().connections_open, 0u);
}

TEST_F(NativeDoor, IdleTimeoutCloses) {
  make_door().set_idle_timeout(50ms);
  run([&]() -> Task<void> {
    Mta mta = connect();
    co_await negotiate(mta);
    const auto start = std::chrono::steady_clock::now();
    const auto replies = co_await mta.until_closed();
    EXPECT_TRUE(replies.empty());
    EXPECT_GE(std::chrono::steady_clock::now() - start, 40ms);
    co_await until_no_connection_open();
  });
  const auto s = door_->stats();
  EXPECT_EQ(s.connections_open, 0u);
  EXPECT_EQ(s.protocol_errors, 0u);
  EXPECT_EQ(s.internal_errors, 0u);
}

// ---------------------------------------------------------------------------------------------
// (h) SASL login from the MAIL macros

TEST_F(NativeDoor, ForcedSaslUserFromMailMacros) {
  Config::Reception reception;
  reception.forced_tls_sasl_user = {"alice"};
  door_ = std::make_unique<NativeMilterDoor>(lookup_, reception);
  run([&]() -> Task<void> {
    Mta mta = connect();
    co_await negotiate(mta);
    co_await mta.send_unanswered(connect4("203.0.113.5"), "connect");
    // bob is not forced: accepted at DATA.
    co_await mta.send_unanswered(
        macros('M', "{auth_type}", "PLAIN", "{auth_authen}", "bob") + mail("bob@elsewhere.example"),
        "MAIL bob");
    co_await mta.send(rcpt("c@elsewhere.example"));
    co_await mta.expect(SMFIR_CONTINUE, "RCPT bob");
    co_await mta.send(kData);
    co_await mta.expect(SMFIR_ACCEPT, "DATA bob");
    // ALICE (names compare case-insensitively) is.
    co_await mta.send_unanswered(
        macros('M', "i", "QID2", "{auth_authen}", "ALICE") + mail("alice@elsewhere.example"), "MAIL alice");
    co_await mta.send(rcpt("c@elsewhere.example"));
    co_await mta.expect(SMFIR_CONTINUE, "RCPT alice");
    co_await mta.send(kData);
    co_await mta.expect(SMFIR_CONTINUE, "DATA alice");
    co_await mta.send_unanswered(header("Subject", "x"), "header");
    co_await mta.send(kEom);
    const Reply h = co_await mta.recv();
    EXPECT_EQ(h.command, SMFIR_ADDHEADER);
    EXPECT_EQ(h.data, "X-TLSfence\0forced-tls\0"s);
    co_await mta.expect(SMFIR_CONTINUE, "end of message alice");
    // A MAIL stage without {auth_authen} (no login on this message): not forced any more.
    co_await mta.send_unanswered(macros('M', "i", "QID3") + mail("carol@elsewhere.example"), "MAIL 3");
    co_await mta.send(rcpt("c@elsewhere.example"));
    co_await mta.expect(SMFIR_CONTINUE, "RCPT 3");
    co_await mta.send(kData);
    co_await mta.expect(SMFIR_ACCEPT, "DATA 3");
    co_await mta.send(kQuit);
    co_await mta.until_closed();
  });
  EXPECT_EQ(door_->stats().forced, 1u);
}

// ---------------------------------------------------------------------------------------------
// (j) reload between messages

TEST_F(NativeDoor, ReloadAppliesToTheNextMail) {
  make_door();
  run([&]() -> Task<void> {
    Mta mta = connect();
    // Negotiated without forced rules: the MTA will not send headers (SMFIP_NOHDRS).
    const auto n = co_await negotiate(mta, optneg(6, SMFI_CURR_ACTS, 0));
    EXPECT_EQ(n.protocol, 0u);
    co_await mta.send(connect4("203.0.113.5"));
    co_await mta.expect(SMFIR_CONTINUE, "connect");
    co_await mta.send(mail("a@clinic.example"));
    co_await mta.expect(SMFIR_CONTINUE, "MAIL 1");
    co_await mta.send(rcpt("b@elsewhere.example"));
    co_await mta.expect(SMFIR_CONTINUE, "RCPT 1");
    co_await mta.send(kData);
    co_await mta.expect(SMFIR_ACCEPT, "DATA 1 (no rules yet)");

    Config::Reception reception;
    reception.forced_tls_sender = {"@clinic.example"};
    door_->set_reception(policy::ReceptionOptions::from_config(reception),
                         policy::ForcedTls::from_config(reception));

    co_await mta.send(mail("a@clinic.example"));
    co_await mta.expect(SMFIR_CONTINUE, "MAIL 2");
    co_await mta.send(rcpt("b@elsewhere.example"));
    co_await mta.expect(SMFIR_CONTINUE, "RCPT 2");
    co_await mta.send(kData);
    co_await mta.expect(SMFIR_CONTINUE, "DATA 2 (forced after the reload)");
    co_await mta.send(kEom);
    co_await mta.expect(SMFIR_ADDHEADER, "end of message 2");
    co_await mta.expect(SMFIR_CONTINUE, "end of message 2");

    // Reload back to no rules: the next message is not forced.
    door_->set_reception(policy::ReceptionOptions{}, policy::ForcedTls{});
    co_await mta.send(mail("a@clinic.example"));
    co_await mta.expect(SMFIR_CONTINUE, "MAIL 3");
    co_await mta.send(rcpt("b@elsewhere.example"));
    co_await mta.expect(SMFIR_CONTINUE, "RCPT 3");
    co_await mta.send(kData);
    co_await mta.expect(SMFIR_ACCEPT, "DATA 3 (rules gone)");
    co_await mta.send(kQuit);
    co_await mta.until_closed();
  });
  EXPECT_EQ(door_->stats().forced, 1u);
  EXPECT_EQ(door_->stats().messages, 3u);
}

// ---------------------------------------------------------------------------------------------
// Abort, and a packet split over many writes

TEST_F(NativeDoor, AbortForgetsTheMessage) {
  make_door(forced_reception());
  run([&]() -> Task<void> {
    Mta mta = connect();
    co_await negotiate(mta, optneg(6, SMFI_CURR_ACTS, 0));
    co_await mta.send(connect4("203.0.113.5"));
    co_await mta.expect(SMFIR_CONTINUE, "connect");
    co_await mta.send(mail("a@clinic.example"));
    co_await mta.expect(SMFIR_CONTINUE, "MAIL 1 (forced)");
    co_await mta.send_unanswered(wire::encode_packet(SMFIC_ABORT), "abort");
    co_await mta.send(mail("a@elsewhere.example"));
    co_await mta.expect(SMFIR_CONTINUE, "MAIL 2");
    co_await mta.send(rcpt("b@elsewhere.example"));
    co_await mta.expect(SMFIR_CONTINUE, "RCPT 2");
    co_await mta.send(kData);
    co_await mta.expect(SMFIR_ACCEPT, "DATA 2");
    co_await mta.send(kQuit);
    co_await mta.until_closed();
  });
  EXPECT_EQ(door_->stats().forced, 0u);
}

TEST_F(NativeDoor, PacketsSplitAcrossWrites) {
  make_door(forced_reception());
  run([&]() -> Task<void> {
    Mta mta = connect();
    const std::string offer = optneg();
    for (char ch : offer) {
      co_await mta.send(std::string(1, ch));
      co_await sleep(1ms);
    }
    const Reply r = co_await mta.recv();
    EXPECT_EQ(r.command, SMFIC_OPTNEG);
    const std::string rest = connect4("203.0.113.5") + mail("a@clinic.example") + rcpt("b@partner.test");
    for (std::size_t i = 0; i < rest.size(); i += 3) co_await mta.send(rest.substr(i, 3));
    co_await mta.expect(SMFIR_CONTINUE, "RCPT");
    co_await mta.expect_silence("one reply for three steps, two of them no-reply");
    co_await mta.send(kQuit);
    co_await mta.until_closed();
  });
  EXPECT_EQ(door_->stats().protocol_errors, 0u);
}

}  // namespace
}  // namespace tlsfence::milter
