// SSRF guard of the https: rua POST: loopback, private, link-local, multicast and unspecified
// addresses are refused (no connection is made) unless [tlsrpt] allow-private-addresses = yes;
// the refusal is recorded as the delivery attempt's outcome, naming the address.
#include "rptd/https_post.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <sstream>
#include <thread>

#include "rptd/delivery.h"

namespace tlsfence::rptd {
namespace {

Config test_config(bool allow) {
  Config cfg;
  cfg.dns.trust_anchor_file = "";
  cfg.tlsrpt.allow_private_addresses = allow;
  return cfg;
}

// A TCP listener on 127.0.0.1 that counts connections and closes each at once.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0 || stop_) {
          if (c >= 0) ::close(c);
          return;
        }
        ++accepted_;
        ::close(c);
      }
    });
  }
  ~Listener() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

TEST(HttpsPostGuard, RefusesNonGlobalAddressesWithoutConnecting) {
  Listener l;
  const Config cfg = test_config(false);
  const std::string url = "https://127.0.0.1:" + std::to_string(l.port()) + "/report";
  const auto r = https_post_report(cfg, url, "body", std::chrono::seconds(5));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.detail.find("refused"), std::string::npos) << r.detail;
  EXPECT_NE(r.detail.find("127.0.0.1 (loopback)"), std::string::npos) << r.detail;
  EXPECT_NE(r.detail.find("allow-private-addresses"), std::string::npos) << r.detail;
  EXPECT_EQ(l.accepted(), 0);
  for (const char* u :
       {"https://10.1.2.3/r", "https://192.168.1.1/r", "https://169.254.169.254/latest", "https://[::1]/r",
        "https://[fe80::1]:8443/r", "https://0.0.0.0/r", "https://224.0.0.1/r"}) {
    const auto refused = https_post_report(cfg, u, "body", std::chrono::seconds(5));
    EXPECT_FALSE(refused.ok) << u;
    EXPECT_NE(refused.detail.find("address not allowed"), std::string::npos) << u << ": " << refused.detail;
  }
  // multicast and unspecified stay refused even when private addresses are allowed
  for (const char* u : {"https://0.0.0.0/r", "https://224.0.0.1/r", "https://[ff02::1]/r"}) {
    const auto refused = https_post_report(test_config(true), u, "body", std::chrono::seconds(5));
    EXPECT_NE(refused.detail.find("address not allowed"), std::string::npos) << u << ": " << refused.detail;
  }
}

TEST(HttpsPostGuard, AllowedWithTheKey) {
  Listener l;
  const std::string url = "https://127.0.0.1:" + std::to_string(l.port()) + "/report";
  const auto r = https_post_report(test_config(true), url, "body", std::chrono::seconds(5));
  EXPECT_FALSE(r.ok);  // the listener is no HTTPS server: the TLS handshake fails…
  EXPECT_EQ(r.detail.find("not allowed"), std::string::npos) << r.detail;
  EXPECT_NE(r.detail.find("TLS handshake"), std::string::npos) << r.detail;
  EXPECT_EQ(l.accepted(), 1);  // …but the connection was made
}

TEST(HttpsPostGuard, BadUrls) {
  for (const char* u : {"http://x/r", "https://", "https://x:0/r", "https://x:70000/r", "https://x:8a/r",
                        "https://[::1/r", "https://[::1]x/r"}) {
    const auto r = https_post_report(test_config(true), u, "body", std::chrono::seconds(5));
    EXPECT_FALSE(r.ok) << u;
    EXPECT_NE(r.detail.find("not an https URL"), std::string::npos) << u << ": " << r.detail;
  }
}

// The refusal is what the delivery attempt records.
struct FixedRecordTransport final : Transport {
  explicit FixedRecordTransport(const Config& cfg) : net(cfg) {}
  NetworkTransport net;
  std::string rua;
  std::vector<RecordAnswer> records(const std::vector<std::string>& domains) override {
    return std::vector<RecordAnswer>(domains.size(), {tlsrpt::RecordState::valid, "v=TLSRPTv1; rua=" + rua});
  }
  SendResult send(const parse::TlsrptRua& r, const tlsrpt::BuiltReport& report, std::int64_t now) override {
    return net.send(r, report, now);
  }
};

TEST(HttpsPostGuard, RefusalRecordedAsTheAttemptsOutcome) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("rptd-guard-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  Listener l;
  for (bool allow : {false, true}) {
    const std::string db = (dir / (allow ? "allowed.db" : "refused.db")).string();
    tlsrpt::Store s(db);
    tlsrpt::Outcome o;
    o.day = 20780;
    o.policy_domain = "a.example";
    std::vector<tlsrpt::Outcome> v{o};
    s.add(v);
    Config cfg = test_config(allow);
    FixedRecordTransport t(cfg);
    t.rua = "https://127.0.0.1:" + std::to_string(l.port()) + "/report";
    SystemClock clock;
    DeliveryOptions options;
    options.meta = {"Org", "mailto:x@sender.example", "sender.example"};
    options.outbox = dir / "outbox";
    Deliverer d(s, t, clock, options);
    std::ostringstream out;
    d.plan_day(20780, out);
    const auto r = d.attempt_due(out);
    EXPECT_EQ(r.failed, 1u);
    const auto deliveries = s.deliveries(20780);
    ASSERT_EQ(deliveries.size(), 1u);
    const auto attempts = s.attempts(deliveries[0].id);
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_FALSE(attempts[0].ok);
    EXPECT_TRUE(attempts[0].next_retry);
    if (!allow) {
      EXPECT_NE(attempts[0].detail.find("127.0.0.1 (loopback)"), std::string::npos) << attempts[0].detail;
      EXPECT_NE(attempts[0].detail.find("not allowed"), std::string::npos) << attempts[0].detail;
    } else {
      EXPECT_EQ(attempts[0].detail.find("not allowed"), std::string::npos) << attempts[0].detail;
      EXPECT_NE(attempts[0].detail.find("TLS handshake"), std::string::npos) << attempts[0].detail;
    }
  }
  EXPECT_EQ(l.accepted(), 1);  // only the allowed attempt connected
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tlsfence::rptd
