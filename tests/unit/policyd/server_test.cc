// The policy delegation door over a real unix socket in a temp dir, with a FakeLookup.
// g++ 12 misreads Boost 1.74 awaitable frames' sized operator delete (false positive).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include "doors/policyd/server.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <functional>

#include "fake_lookup.h"

namespace tlsfence::policyd {
namespace {

using namespace std::chrono_literals;
using local = asio::local::stream_protocol;
using testing::FakeLookup;

std::string request(std::string_view extra) {
  return "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
         "client_address=203.0.113.5\nclient_name=mail.client.example\nhelo_name=client.example\n"
         "queue_id=ABC123\nsize=1234\n" +
         std::string(extra) + "\n";
}

// Writes `data`, then reads until `replies` complete replies ("\n\n") were seen, or the
// server closes. Returns everything read.
Task<std::string> exchange(local::socket& s, std::string data, int replies = 1) {
  boost::system::error_code ec;
  co_await asio::async_write(s, asio::buffer(data), asio::redirect_error(asio::use_awaitable, ec));
  std::string got;
  auto complete = [&] {
    int n = 0;
    for (std::size_t pos = got.find("\n\n"); pos != std::string::npos; pos = got.find("\n\n", pos + 2)) ++n;
    return n >= replies;
  };
  char buf[4096];
  while (!ec && !complete()) {
    const std::size_t n =
        co_await s.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
    got.append(buf, n);
  }
  co_return got;
}

// Reads until the server closes (EOF or reset): everything that arrived.
Task<std::string> read_to_close(local::socket& s) {
  std::string got;
  boost::system::error_code ec;
  co_await asio::async_read(s, asio::dynamic_buffer(got), asio::redirect_error(asio::use_awaitable, ec));
  co_return got;
}

class PolicydDoorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tlsfence-policyd-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    reception_.forced_tls_sender = {"@clinic.example"};
    reception_.forced_tls_sasl_user = {"alice"};
    reception_.forced_tls_client_network = {"192.0.2.0/24"};
    reception_.forced_tls_recipient_domain = {"partner.example"};
    reception_.forced_tls_transport = "tlsfence-encrypt";
    lookup_.set("bogus.example", {FakeLookup::bogus()});
    lookup_.set("servfail.example", {FakeLookup::servfail()});
    lookup_.set("dane.example", {FakeLookup::dane_only()});
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  PolicydDoor make_door(std::chrono::milliseconds wait = 1000ms, std::chrono::milliseconds idle = 10'000ms) {
    auto options = policy::ReceptionOptions::from_config(reception_);
    options.wait = wait;
    options.idle_timeout = idle;
    return PolicydDoor(lookup_, options, policy::ForcedTls::from_config(reception_));
  }

  // Accepts one connection for the door and runs `client` on a connected socket; runs the
  // io_context until everything (the client, the door, detached lookups) is done.
  void run(PolicydDoor& door, std::function<Task<void>(local::socket&)> client) {
    const std::string path = (dir_ / "policy.sock").string();
    std::filesystem::remove(path);
    local::acceptor acceptor(io_, local::endpoint(path));
    local::socket client_socket(io_);
    bool client_done = false;
    asio::co_spawn(
        io_,
        [&]() -> Task<void> {
          auto s = co_await acceptor.async_accept(asio::use_awaitable);
          co_await door.serve(asio::generic::stream_protocol::socket(std::move(s)));
        },
        asio::detached);
    asio::co_spawn(
        io_,
        [&]() -> Task<void> {
          co_await client_socket.async_connect(local::endpoint(path), asio::use_awaitable);
          co_await client(client_socket);
          client_socket.close();
          client_done = true;
        },
        asio::detached);
    io_.run_for(20s);
    io_.restart();
    EXPECT_TRUE(client_done);
  }

  std::string ask(PolicydDoor& door, std::string req) {
    std::string got;
    run(door, [&](local::socket& s) -> Task<void> { got = co_await exchange(s, req); });
    return got;
  }

  asio::io_context io_;
  FakeLookup lookup_;
  Config::Reception reception_;
  std::filesystem::path dir_;
};

TEST_F(PolicydDoorTest, OrdinaryRecipientIsDunnoAndStartsTheLookup) {
  auto door = make_door();
  EXPECT_EQ(ask(door, request("sender=a@b.example\nrecipient=c@Example.ORG\n")), "action=DUNNO\n\n");
  EXPECT_EQ(lookup_.asked, std::vector<std::string>{"Example.ORG"});
  EXPECT_EQ(door.stats().requests, 1u);
}

TEST_F(PolicydDoorTest, ForcedTlsByEachRuleFamily) {
  auto door = make_door();
  const std::string filter = "action=FILTER tlsfence-encrypt:\n\n";
  EXPECT_EQ(ask(door, request("sender=doc@clinic.example\nrecipient=c@dane.example\n")), filter);
  EXPECT_EQ(ask(door, request("sender=x@y.example\nsasl_username=Alice\nrecipient=c@d.example\n")), filter);
  EXPECT_EQ(ask(door, request("sender=x@y.example\nrecipient=c@mx.partner.example\n")), filter);
  std::string from_net = request("sender=x@y.example\nrecipient=c@d.example\n");
  from_net.replace(from_net.find("203.0.113.5"), 11, "192.0.2.77");
  EXPECT_EQ(ask(door, from_net), filter);
  EXPECT_EQ(door.stats().filtered, 4u);
}

TEST_F(PolicydDoorTest, TransportNameFromConfig) {
  reception_.forced_tls_transport = "tlsfence-verify";
  auto door = make_door();
  EXPECT_EQ(ask(door, request("sender=doc@clinic.example\nrecipient=c@d.example\n")),
            "action=FILTER tlsfence-verify:\n\n");
}

TEST_F(PolicydDoorTest, BogusRecipientDomainPerSetting) {
  const std::string rcpt = request("sender=x@y.example\nrecipient=c@bogus.example\n");
  {
    reception_.on_dnssec_bogus = BogusAction::continue_;
    auto door = make_door();
    EXPECT_EQ(ask(door, rcpt), "action=DUNNO\n\n");
  }
  {
    reception_.on_dnssec_bogus = BogusAction::defer;
    auto door = make_door();
    const std::string got = ask(door, rcpt);
    EXPECT_EQ(
        got.rfind("action=DEFER_IF_PERMIT 4.7.5 DNSSEC validation failed for recipient domain bogus.example",
                  0),
        0u)
        << got;
    EXPECT_EQ(door.stats().refused, 1u);
    EXPECT_EQ(door.actions().value(static_cast<std::size_t>(ActionKind::defer)), 1u);
    EXPECT_EQ(door.actions().value(static_cast<std::size_t>(ActionKind::dunno)), 0u);
    EXPECT_EQ(door.latency().count, 1u);
  }
  {
    reception_.on_dnssec_bogus = BogusAction::reject;
    auto door = make_door();
    const std::string got = ask(door, rcpt);
    EXPECT_EQ(got.rfind("action=REJECT 5.7.5 DNSSEC validation failed for recipient domain bogus.example", 0),
              0u)
        << got;
    EXPECT_EQ(got.substr(got.size() - 2), "\n\n");
    EXPECT_EQ(door.actions().value(static_cast<std::size_t>(ActionKind::reject)), 1u);
  }
}

TEST_F(PolicydDoorTest, BogusRefusalWinsOverForcedTls) {
  reception_.on_dnssec_bogus = BogusAction::defer;
  auto door = make_door();
  const std::string got = ask(door, request("sender=doc@clinic.example\nrecipient=c@bogus.example\n"));
  EXPECT_EQ(got.rfind("action=DEFER_IF_PERMIT 4.7.5 ", 0), 0u) << got;
}

TEST_F(PolicydDoorTest, ServfailIsNotBogus) {
  reception_.on_dnssec_bogus = BogusAction::reject;
  auto door = make_door();
  EXPECT_EQ(ask(door, request("sender=x@y.example\nrecipient=c@servfail.example\n")), "action=DUNNO\n\n");
}

TEST_F(PolicydDoorTest, SlowLookupAnswersAtTheDeadlineAndKeepsRunning) {
  reception_.on_dnssec_bogus = BogusAction::defer;
  auto slow = FakeLookup::bogus();
  lookup_.set("slow.example", {slow, 600ms});
  auto door = make_door(50ms);
  std::chrono::steady_clock::duration took{};
  std::string got;
  run(door, [&](local::socket& s) -> Task<void> {
    const auto start = std::chrono::steady_clock::now();
    got = co_await exchange(s, request("sender=x@y.example\nrecipient=c@slow.example\n"));
    took = std::chrono::steady_clock::now() - start;
  });
  EXPECT_EQ(got, "action=DUNNO\n\n");  // answered without the (bogus) decision
  EXPECT_LT(took, 500ms);
  EXPECT_EQ(door.stats().lookups_late, 1u);
  // run() returned only after the detached lookup finished: it warmed the cache.
  EXPECT_EQ(lookup_.finished, std::vector<std::string>{"slow.example"});
}

TEST_F(PolicydDoorTest, ContinueModeStartsTheLookupWithoutWaiting) {
  reception_.on_dnssec_bogus = BogusAction::continue_;
  lookup_.set("slow.example", {FakeLookup::bogus(), 600ms});
  auto door = make_door(5000ms);
  std::chrono::steady_clock::duration took{};
  std::string got;
  run(door, [&](local::socket& s) -> Task<void> {
    const auto start = std::chrono::steady_clock::now();
    got = co_await exchange(s, request("sender=x@y.example\nrecipient=c@slow.example\n"));
    took = std::chrono::steady_clock::now() - start;
  });
  EXPECT_EQ(got, "action=DUNNO\n\n");
  EXPECT_LT(took, 400ms);
  EXPECT_EQ(door.stats().prefetched, 1u);
  EXPECT_EQ(door.stats().lookups_late, 0u);
  EXPECT_EQ(lookup_.finished, std::vector<std::string>{"slow.example"});
}

TEST_F(PolicydDoorTest, LookupFailureIsAnsweredWithoutIt) {
  FakeLookup::Entry e{FakeLookup::bogus()};
  e.throws = true;
  lookup_.set("throws.example", e);
  reception_.on_dnssec_bogus = BogusAction::defer;
  auto door = make_door();
  EXPECT_EQ(ask(door, request("sender=x@y.example\nrecipient=c@throws.example\n")), "action=DUNNO\n\n");
}

TEST_F(PolicydDoorTest, ManyRequestsPerConnectionAndPipelining) {
  reception_.on_dnssec_bogus = BogusAction::defer;
  auto door = make_door();
  std::string first, pipelined, last;
  run(door, [&](local::socket& s) -> Task<void> {
    first = co_await exchange(s, request("sender=a@b.example\nrecipient=c@d.example\n"));
    pipelined = co_await exchange(s,
                                  request("sender=doc@clinic.example\nrecipient=c@d.example\n") +
                                      request("sender=a@b.example\nrecipient=c@bogus.example\n"),
                                  2);
    last = co_await exchange(s, request("sender=a@b.example\nrecipient=postmaster\nunknown_attr=x=y\n"));
  });
  EXPECT_EQ(first, "action=DUNNO\n\n");
  EXPECT_EQ(pipelined.rfind("action=FILTER tlsfence-encrypt:\n\naction=DEFER_IF_PERMIT 4.7.5 ", 0), 0u)
      << pipelined;
  EXPECT_EQ(last, "action=DUNNO\n\n");
  EXPECT_EQ(door.stats().requests, 4u);
  EXPECT_EQ(door.stats().connections, 1u);
}

TEST_F(PolicydDoorTest, NonRcptStateUsesEnvelopeRulesWithoutLookup) {
  auto door = make_door();
  const std::string eod =
      "request=smtpd_access_policy\nprotocol_state=END-OF-MESSAGE\nsender=doc@clinic.example\n"
      "recipient=\nrecipient_count=2\nclient_address=203.0.113.5\n\n";
  EXPECT_EQ(ask(door, eod), "action=FILTER tlsfence-encrypt:\n\n");
  EXPECT_TRUE(lookup_.asked.empty());
}

TEST_F(PolicydDoorTest, BadRequestKeepsTheConnection) {
  auto door = make_door();
  std::string bad, unknown, good;
  run(door, [&](local::socket& s) -> Task<void> {
    bad = co_await exchange(s, "sender=a@b.example\n\n");
    unknown = co_await exchange(s, "request=something_else\n\n");
    good = co_await exchange(s, request("recipient=c@d.example\n"));
  });
  EXPECT_EQ(bad, "action=451 4.3.5 tlsfence: policy request protocol error: no request attribute\n\n");
  EXPECT_EQ(unknown, "action=451 4.3.5 tlsfence: policy request protocol error: unknown request type\n\n");
  EXPECT_EQ(good, "action=DUNNO\n\n");
}

struct Malformed {
  const char* name;
  std::string bytes;
  const char* error;
};

TEST_F(PolicydDoorTest, MalformedInputGetsAnErrorAndAClose) {
  std::string many;
  for (int i = 0; i < 5000; ++i) many += "attr" + std::to_string(i) + "=v\n";
  const Malformed cases[] = {
      {"1 MiB line", "request=" + std::string(1 << 20, 'x') + "\n\n", "line too long"},
      {"binary", std::string("request=smtpd_access_policy\nsender=\0\xff\x01\n\n", 40), "binary data"},
      {"thousands of attributes", "request=smtpd_access_policy\n" + many + "\n", "too many attributes"},
      {"no equals", "request=smtpd_access_policy\nGET / HTTP/1.0\n\n", "malformed line"},
  };
  for (const Malformed& m : cases) {
    SCOPED_TRACE(m.name);
    auto door = make_door();
    std::string got;
    run(door, [&](local::socket& s) -> Task<void> {
      // Write concurrently: the door may close before it has read everything.
      asio::co_spawn(
          s.get_executor(),
          [&s, bytes = m.bytes]() -> Task<void> {
            boost::system::error_code ec;
            co_await asio::async_write(s, asio::buffer(bytes), asio::redirect_error(asio::use_awaitable, ec));
          },
          asio::detached);
      got = co_await read_to_close(s);
    });
    EXPECT_EQ(got,
              "action=451 4.3.5 tlsfence: policy request protocol error: " + std::string(m.error) + "\n\n");
    EXPECT_EQ(door.stats().protocol_errors, 1u);
  }
}

TEST_F(PolicydDoorTest, CloseWithoutEmptyLineIsClean) {
  auto door = make_door();
  run(door, [&](local::socket& s) -> Task<void> {
    const std::string partial = "request=smtpd_access_policy\nrecipient=c@d.example\n";
    co_await asio::async_write(s, asio::buffer(partial), asio::use_awaitable);
  });
  EXPECT_EQ(door.stats().requests, 0u);
  EXPECT_TRUE(lookup_.asked.empty());
}

TEST_F(PolicydDoorTest, IdleConnectionIsClosed) {
  auto door = make_door(1000ms, 100ms);
  std::string got;
  std::chrono::steady_clock::duration took{};
  run(door, [&](local::socket& s) -> Task<void> {
    const auto start = std::chrono::steady_clock::now();
    got = co_await read_to_close(s);
    took = std::chrono::steady_clock::now() - start;
  });
  EXPECT_EQ(got, "");
  EXPECT_GE(took, 90ms);
  EXPECT_LT(took, 5s);
  EXPECT_EQ(door.stats().idle_closed, 1u);
}

TEST_F(PolicydDoorTest, FactoryRejectsBadRules) {
  reception_.forced_tls_client_network = {"192.0.2.1/24"};
  EXPECT_THROW(PolicydDoor(lookup_, reception_), policy::ForcedTlsError);
}

}  // namespace
}  // namespace tlsfence::policyd
