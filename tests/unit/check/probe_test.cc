// The STARTTLS probe (src/check/starttls_probe.h) against scripted servers on loopback:
// no STARTTLS, hostile replies (huge banner, garbage, slow drip), refused connections, and a
// real TLS handshake with a throwaway self-signed certificate checked through DANE-EE.
#include "check/starttls_probe.h"

// g++ 12 at -O2 reports a false -Wmismatched-new-delete inside Asio's coroutine frame
// allocator (thread_info_base.hpp).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <optional>

namespace tlsfence::check {
namespace {

namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;
using Script = std::function<Task<void>(tcp::socket&)>;

Task<void> say(tcp::socket& s, std::string text) {
  error_code ec;
  co_await asio::async_write(s, asio::buffer(text), asio::redirect_error(asio::use_awaitable, ec));
}

Task<std::string> hear(tcp::socket& s, asio::streambuf& buf) {
  error_code ec;
  std::size_t n =
      co_await asio::async_read_until(s, buf, "\r\n", asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return std::string();
  std::string line(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + n);
  buf.consume(n);
  co_return line;
}

// Runs `script` as the server of one connection and probes it; returns the probe result.
ProbeResult run(Script script, std::chrono::milliseconds timeout = std::chrono::seconds(5),
                const DaneInput* dane = nullptr, std::string host = "mx.test",
                std::string address = "127.0.0.1") {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address(address), 0));
  ProbeOptions o;
  o.port = acceptor.local_endpoint().port();
  o.timeout = timeout;
  StarttlsProber prober(o);
  std::optional<ProbeResult> result;
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        tcp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
        co_await script(s);
      },
      asio::detached);
  asio::co_spawn(
      io, [&]() -> Task<void> { result = co_await prober.probe(host, address, dane); }, asio::detached);
  io.run_for(std::chrono::seconds(30));
  EXPECT_TRUE(result.has_value());
  return result.value_or(ProbeResult{});
}

TEST(StarttlsProbe, NoStarttlsOffered) {
  std::string quit;
  auto r = run([&](tcp::socket& s) -> Task<void> {
    asio::streambuf buf;
    co_await say(s, "220 fake ESMTP\r\n");
    (void)co_await hear(s, buf);
    co_await say(s, "250-fake\r\n250-PIPELINING\r\n250-X\x1b[2J\r\n250 8BITMIME\r\n");
    quit = co_await hear(s, buf);
  });
  EXPECT_EQ(r.stage, ProbeStage::starttls);
  EXPECT_FALSE(r.starttls_offered);
  EXPECT_EQ(r.banner, "fake ESMTP");
  // Keywords are shown to a person: control characters from the server never pass.
  EXPECT_EQ(r.ehlo_keywords, (std::vector<std::string>{"PIPELINING", "X?[2J", "8BITMIME"}));
  EXPECT_NE(r.error.find("not offered"), std::string::npos);
  EXPECT_EQ(quit, "QUIT\r\n");
}

TEST(StarttlsProbe, HugeBannerIsRefused) {
  auto r = run([](tcp::socket& s) -> Task<void> { co_await say(s, "220 " + std::string(100'000, 'A')); });
  EXPECT_EQ(r.stage, ProbeStage::banner);
  EXPECT_NE(r.error.find("longer than"), std::string::npos) << r.error;
}

TEST(StarttlsProbe, GarbageIsRefused) {
  auto r = run([](tcp::socket& s) -> Task<void> { co_await say(s, "SSH-2.0-OpenSSH_9.2\r\n"); });
  EXPECT_EQ(r.stage, ProbeStage::banner);
  EXPECT_NE(r.error.find("not an SMTP reply line"), std::string::npos) << r.error;
}

TEST(StarttlsProbe, SlowDripTimesOut) {
  const auto started = std::chrono::steady_clock::now();
  auto r = run(
      [](tcp::socket& s) -> Task<void> {
        asio::steady_timer t(s.get_executor());
        for (int i = 0; i < 100; ++i) {
          error_code ec;
          co_await asio::async_write(s, asio::buffer("2", 1), asio::redirect_error(asio::use_awaitable, ec));
          if (ec) break;  // the probe gave up and closed
          t.expires_after(std::chrono::milliseconds(100));
          co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
      },
      std::chrono::milliseconds(800));
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.stage, ProbeStage::banner);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(StarttlsProbe, BadGreetingCode) {
  auto r = run([](tcp::socket& s) -> Task<void> { co_await say(s, "554 go away\r\n"); });
  EXPECT_EQ(r.stage, ProbeStage::banner);
  EXPECT_EQ(r.banner_code, 554);
  EXPECT_NE(r.error.find("not 220"), std::string::npos);
}

TEST(StarttlsProbe, ConnectionRefused) {
  asio::io_context io;
  std::uint16_t port = 0;
  {
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }
  ProbeOptions o;
  o.port = port;
  StarttlsProber prober(o);
  std::optional<ProbeResult> r;
  asio::co_spawn(
      io, [&]() -> Task<void> { r = co_await prober.probe("mx.test", "127.0.0.1", nullptr); },
      asio::detached);
  io.run();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->stage, ProbeStage::connect);
  EXPECT_FALSE(r->error.empty());
}

// A throwaway self-signed certificate for mx.test and the SHA-256 of its SubjectPublicKeyInfo.
struct TestCert {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  std::string spki_sha256;
  explicit TestCert(long not_after_seconds = 3600) {
    key = EVP_EC_gen("P-256");
    cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -7200);
    X509_gmtime_adj(X509_getm_notAfter(cert), not_after_seconds);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("mx.test"),
                               -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "DNS:mx.test");
    X509_add_ext(cert, san, -1);
    X509_EXTENSION_free(san);
    X509_sign(cert, key, EVP_sha256());
    unsigned char* der = nullptr;
    int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(der, n, md);
    OPENSSL_free(der);
    spki_sha256.assign(reinterpret_cast<char*>(md), sizeof md);
  }
  ~TestCert() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

Script tls_server(TestCert& c) {
  return [&c](tcp::socket& s) -> Task<void> {
    asio::streambuf buf;
    co_await say(s, "220 tls ESMTP\r\n");
    (void)co_await hear(s, buf);
    co_await say(s, "250-tls\r\n250-SIZE 1000\r\n250 STARTTLS\r\n");
    if (co_await hear(s, buf) != "STARTTLS\r\n") co_return;
    co_await say(s, "220 2.0.0 Ready to start TLS\r\n");
    ssl::context ctx(ssl::context::tls_server);
    SSL_CTX_use_certificate(ctx.native_handle(), c.cert);
    SSL_CTX_use_PrivateKey(ctx.native_handle(), c.key);
    ssl::stream<tcp::socket&> tls(s, ctx);
    error_code ec;
    co_await tls.async_handshake(ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    char line[64];
    (void)co_await tls.async_read_some(asio::buffer(line), asio::redirect_error(asio::use_awaitable, ec));
    const std::string bye = "221 bye\r\n";
    co_await asio::async_write(tls, asio::buffer(bye), asio::redirect_error(asio::use_awaitable, ec));
  };
}

TEST(StarttlsProbe, TlsHandshakeDaneEeMatch) {
  TestCert c;
  DaneInput dane{"mx.test", {TlsaRecord{3, 1, 1, c.spki_sha256, true}}};
  auto r = run(tls_server(c), std::chrono::seconds(5), &dane);
  ASSERT_EQ(r.stage, ProbeStage::done) << r.error;
  EXPECT_TRUE(r.starttls_offered);
  EXPECT_TRUE(r.tls);
  EXPECT_FALSE(r.tls_version.empty());
  ASSERT_FALSE(r.chain.empty());
  EXPECT_EQ(r.chain[0].dns_names, (std::vector<std::string>{"mx.test"}));
  EXPECT_EQ(r.chain[0].subject, "CN=mx.test");
  EXPECT_TRUE(r.dane_checked);
  EXPECT_TRUE(r.dane_ok) << r.dane_error;
  EXPECT_EQ(r.dane_match.rfind("3 1 1 ", 0), 0u);
  EXPECT_FALSE(r.pkix_chain_ok);  // self-signed: not in any CA store
  EXPECT_TRUE(r.name_matches);
}

TEST(StarttlsProbe, TlsHandshakeDaneMismatch) {
  TestCert c;
  DaneInput dane{"mx.test", {TlsaRecord{3, 1, 1, std::string(32, '\x42'), true}}};
  auto r = run(tls_server(c), std::chrono::seconds(5), &dane);
  ASSERT_EQ(r.stage, ProbeStage::done) << r.error;
  EXPECT_TRUE(r.dane_checked);
  EXPECT_FALSE(r.dane_ok);
  EXPECT_FALSE(r.dane_error.empty());
}

// RFC 7672 §3.1.1: a DANE-EE(3) match ignores the certificate's names and validity dates.
TEST(StarttlsProbe, DaneEeIgnoresNameAndExpiry) {
  TestCert c(-3600);  // expired an hour ago
  DaneInput dane{"other.test", {TlsaRecord{3, 1, 1, c.spki_sha256, true}}};
  auto r = run(tls_server(c), std::chrono::seconds(5), &dane, "other.test");
  ASSERT_EQ(r.stage, ProbeStage::done) << r.error;
  ASSERT_FALSE(r.chain.empty());
  EXPECT_TRUE(r.chain[0].expired);
  EXPECT_FALSE(r.name_matches);
  EXPECT_TRUE(r.dane_ok) << r.dane_error;
}

// DANE-TA(2) is not a leaf match: the certificate must chain to the TA (here it does not: the
// TLSA names another key) — the probe reports no match rather than trusting the leaf.
TEST(StarttlsProbe, DaneTaWithoutChainDoesNotMatch) {
  TestCert c;
  DaneInput dane{"mx.test", {TlsaRecord{2, 1, 1, std::string(32, '\x17'), true}}};
  auto r = run(tls_server(c), std::chrono::seconds(5), &dane);
  ASSERT_EQ(r.stage, ProbeStage::done) << r.error;
  EXPECT_FALSE(r.dane_ok);
}

// PKIX-TA(0) / PKIX-EE(1) records are not used for SMTP (RFC 7672 §3.1.3): even one that
// matches the certificate does not make the DANE check pass.
TEST(StarttlsProbe, PkixUsagesAreIgnored) {
  TestCert c;
  DaneInput dane{"mx.test", {TlsaRecord{1, 1, 1, c.spki_sha256, true}}};
  auto r = run(tls_server(c), std::chrono::seconds(5), &dane);
  ASSERT_EQ(r.stage, ProbeStage::done) << r.error;
  EXPECT_TRUE(r.dane_checked);
  EXPECT_FALSE(r.dane_ok);
}

TEST(StarttlsProbe, Ipv6Address) {
  boost::system::error_code ec;
  {
    asio::io_context io;
    tcp::acceptor probe_v6(io);
    probe_v6.open(tcp::v6(), ec);
    if (!ec) probe_v6.bind(tcp::endpoint(asio::ip::make_address("::1"), 0), ec);
  }
  if (ec) GTEST_SKIP() << "no IPv6 loopback here: " << ec.message();
  TestCert c;
  DaneInput dane{"mx.test", {TlsaRecord{3, 1, 1, c.spki_sha256, true}}};
  auto r = run(tls_server(c), std::chrono::seconds(5), &dane, "mx.test", "::1");
  EXPECT_EQ(r.address, "::1");
  ASSERT_EQ(r.stage, ProbeStage::done) << r.error;
  EXPECT_TRUE(r.dane_ok) << r.dane_error;
}

TEST(StarttlsProbe, DataAfterStarttlsReplyIsRefused) {
  auto r = run([](tcp::socket& s) -> Task<void> {
    asio::streambuf buf;
    co_await say(s, "220 x\r\n");
    (void)co_await hear(s, buf);
    co_await say(s, "250-x\r\n250 STARTTLS\r\n");
    (void)co_await hear(s, buf);
    co_await say(s, "220 go\r\n250 injected\r\n");
    (void)co_await hear(s, buf);
  });
  EXPECT_EQ(r.stage, ProbeStage::starttls);
  EXPECT_NE(r.error.find("after its 220"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace tlsfence::check
