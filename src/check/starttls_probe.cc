// STARTTLS probe of one MX address (see starttls_probe.h). Boost.Asio's SSL and Beast's
// tcp_stream (for the deadline) are confined to this file.
#include "check/starttls_probe.h"

// g++ 12 at -O2 reports a false -Wmismatched-new-delete inside Asio's coroutine frame
// allocator (thread_info_base.hpp).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <ctime>
#include <stdexcept>

#include "check/smtp_reply.h"

namespace tlsfence::check {

namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;
using boost::system::error_code;

namespace {

constexpr std::size_t kSansMax = 100;  // subjectAltNames kept per certificate
constexpr std::size_t kChainMax = 10;  // certificates kept per chain

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};

std::string name_text(const X509_NAME* name) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || !name) return {};
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return printable(std::string_view(data, n > 0 ? static_cast<std::size_t>(n) : 0), 1'000);
}

std::string time_text(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return "?";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

CertInfo cert_info(X509* x) {
  CertInfo c;
  c.subject = name_text(X509_get_subject_name(x));
  c.issuer = name_text(X509_get_issuer_name(x));
  c.not_before = time_text(X509_get0_notBefore(x));
  c.not_after = time_text(X509_get0_notAfter(x));
  c.expired = X509_cmp_current_time(X509_get0_notAfter(x)) < 0;
  c.not_yet_valid = X509_cmp_current_time(X509_get0_notBefore(x)) > 0;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && c.dns_names.size() < kSansMax; ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
      if (g->type != GEN_DNS) continue;
      const ASN1_STRING* s = g->d.dNSName;
      c.dns_names.push_back(printable(
          std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), ASN1_STRING_length(s)),
          255));
    }
    GENERAL_NAMES_free(names);
  }
  return c;
}

std::string hex(const unsigned char* data, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

// Reads one reply; on an I/O error `ec` is set and the result is `incomplete`.
template <class Stream>
Task<ReplyParse> read_reply(Stream& s, std::string& buffer, error_code& ec) {
  for (;;) {
    ReplyParse p = parse_reply(buffer);
    if (p.status == ReplyStatus::complete) buffer.erase(0, p.consumed);
    if (p.status != ReplyStatus::incomplete) co_return p;
    char chunk[4096];
    std::size_t n =
        co_await s.async_read_some(asio::buffer(chunk), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return p;
    buffer.append(chunk, n);
  }
}

template <class Stream>
Task<void> send(Stream& s, const std::string& line, error_code& ec) {
  co_await asio::async_write(s, asio::buffer(line), asio::redirect_error(asio::use_awaitable, ec));
}

bool timed_out(const error_code& ec, SteadyTime deadline) {
  return ec == beast::error::timeout || std::chrono::steady_clock::now() >= deadline;
}

// Fills the result's error for a failed read/parse of the reply to `what`.
void reply_failure(ProbeResult& r, const ReplyParse& p, const error_code& ec, SteadyTime deadline,
                   const std::string& what) {
  if (p.status == ReplyStatus::error) {
    r.error = "bad reply to " + what + ": " + p.error;
  } else if (timed_out(ec, deadline)) {
    r.timed_out = true;
    r.error = "timeout waiting for the reply to " + what;
  } else {
    r.error = "connection lost waiting for the reply to " + what + (ec ? ": " + ec.message() : "");
  }
}

std::string reply_text(const SmtpReply& reply) {
  return std::to_string(reply.code) + " " + printable(reply.lines.empty() ? "" : reply.lines.front(), 200);
}

}  // namespace

std::string_view to_string(ProbeStage s) {
  switch (s) {
    case ProbeStage::connect: return "connect";
    case ProbeStage::banner: return "banner";
    case ProbeStage::ehlo: return "ehlo";
    case ProbeStage::starttls: return "starttls";
    case ProbeStage::handshake: return "handshake";
    case ProbeStage::done: return "done";
  }
  return "connect";
}

struct StarttlsProber::Impl {
  explicit Impl(ProbeOptions o) : options(std::move(o)), ctx(ssl::context::tls_client) {
    error_code ec;
    if (options.ca_file.empty()) {
      ctx.set_default_verify_paths(ec);
      if (ec) throw std::runtime_error("cannot load OpenSSL's default CA paths: " + ec.message());
    } else {
      ctx.load_verify_file(options.ca_file, ec);
      if (ec) throw std::runtime_error("mta-sts.ca-file " + options.ca_file + ": " + ec.message());
    }
    if (SSL_CTX_dane_enable(ctx.native_handle()) <= 0) throw std::runtime_error("OpenSSL refuses DANE");
    ctx.set_verify_mode(ssl::verify_none);  // judged after the handshake, both ways
  }

  // After a completed handshake: certificate chain, PKIX and DANE results.
  void judge(SSL* s, const std::string& host, bool dane_enabled, ProbeResult& r) {
    r.tls_version = SSL_get_version(s);
    r.cipher = SSL_get_cipher_name(s);
    std::unique_ptr<X509, X509Free> leaf(SSL_get1_peer_certificate(s));
    STACK_OF(X509)* chain = SSL_get_peer_cert_chain(s);
    if (chain) {
      for (int i = 0; i < sk_X509_num(chain) && r.chain.size() < kChainMax; ++i) {
        r.chain.push_back(cert_info(sk_X509_value(chain, i)));
      }
    }
    if (!leaf) {
      r.pkix_error = "no server certificate";
      r.dane_error = "no server certificate";
      return;
    }
    if (r.chain.empty()) r.chain.push_back(cert_info(leaf.get()));
    r.name_matches = X509_check_host(leaf.get(), host.c_str(), host.size(), 0, nullptr) == 1;

    std::unique_ptr<X509_STORE_CTX, StoreCtxFree> sctx(X509_STORE_CTX_new());
    if (sctx &&
        X509_STORE_CTX_init(sctx.get(), SSL_CTX_get_cert_store(ctx.native_handle()), leaf.get(), chain)) {
      X509_STORE_CTX_set_default(sctx.get(), "ssl_server");
      r.pkix_chain_ok = X509_verify_cert(sctx.get()) == 1;
      if (!r.pkix_chain_ok)
        r.pkix_error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(sctx.get()));
    } else {
      r.pkix_error = "cannot set up certificate verification";
    }

    if (!dane_enabled) return;
    r.dane_checked = true;
    const long verify = SSL_get_verify_result(s);
    X509* mcert = nullptr;
    EVP_PKEY* mspki = nullptr;
    const int depth = SSL_get0_dane_authority(s, &mcert, &mspki);
    r.dane_ok = verify == X509_V_OK && depth >= 0;
    if (r.dane_ok) {
      std::uint8_t usage = 0, selector = 0, mtype = 0;
      const unsigned char* data = nullptr;
      std::size_t dlen = 0;
      if (SSL_get0_dane_tlsa(s, &usage, &selector, &mtype, &data, &dlen) >= 0) {
        r.dane_match = std::to_string(usage) + " " + std::to_string(selector) + " " + std::to_string(mtype) +
                       " " + hex(data, dlen) + " matched at depth " + std::to_string(depth);
      }
    } else {
      r.dane_error = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : "no TLSA record matched";
    }
  }

  ProbeOptions options;
  ssl::context ctx;
};

StarttlsProber::StarttlsProber(ProbeOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
StarttlsProber::~StarttlsProber() = default;

const ProbeOptions& StarttlsProber::options() const {
  return impl_->options;
}

Task<ProbeResult> StarttlsProber::probe(std::string host, std::string address, const DaneInput* dane) {
  const ProbeOptions& o = impl_->options;
  const SteadyTime deadline = std::chrono::steady_clock::now() + o.timeout;
  ProbeResult r;
  r.host = host;
  r.address = address;
  r.port = o.port;

  error_code ec;
  auto ip = boost::asio::ip::make_address(address, ec);
  if (ec) {
    r.error = "not an IP address: " + printable(address);
    co_return r;
  }
  beast::tcp_stream tcp_s(co_await asio::this_coro::executor);
  tcp_s.expires_at(deadline);
  co_await tcp_s.async_connect(tcp::endpoint(ip, o.port), asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    r.timed_out = timed_out(ec, deadline);
    r.error = r.timed_out ? "timeout connecting" : "cannot connect: " + ec.message();
    co_return r;
  }

  std::string buffer;
  r.stage = ProbeStage::banner;
  ReplyParse p = co_await read_reply(tcp_s, buffer, ec);
  if (p.status != ReplyStatus::complete) {
    reply_failure(r, p, ec, deadline, "the connection (220 banner)");
    co_return r;
  }
  r.banner_code = p.reply.code;
  r.banner = printable(p.reply.lines.front(), 200);
  if (p.reply.code != 220) {
    r.error = "greeting is not 220: " + reply_text(p.reply);
    co_return r;
  }

  r.stage = ProbeStage::ehlo;
  co_await send(tcp_s, "EHLO " + o.ehlo_name + "\r\n", ec);
  if (!ec) p = co_await read_reply(tcp_s, buffer, ec);
  if (ec || p.status != ReplyStatus::complete) {
    reply_failure(r, p, ec, deadline, "EHLO");
    co_return r;
  }
  if (p.reply.code != 250) {
    r.error = "EHLO refused: " + reply_text(p.reply);
    co_return r;
  }
  for (const auto& k : ehlo_keywords(p.reply)) r.ehlo_keywords.push_back(printable(k, 64));
  r.starttls_offered = ehlo_offers(p.reply, "STARTTLS");

  r.stage = ProbeStage::starttls;
  if (!r.starttls_offered) {
    r.error = "STARTTLS not offered in the EHLO reply";
    co_await send(tcp_s, "QUIT\r\n", ec);
    co_return r;
  }
  co_await send(tcp_s, "STARTTLS\r\n", ec);
  if (!ec) p = co_await read_reply(tcp_s, buffer, ec);
  if (ec || p.status != ReplyStatus::complete) {
    reply_failure(r, p, ec, deadline, "STARTTLS");
    co_return r;
  }
  if (p.reply.code != 220) {
    r.error = "STARTTLS refused: " + reply_text(p.reply);
    co_return r;
  }
  if (!buffer.empty()) {
    // RFC 3207 §4.2 / CVE-2011-0411: nothing may follow the 220 in the clear.
    r.error = "server sent " + std::to_string(buffer.size()) + " bytes after its 220 to STARTTLS";
    co_return r;
  }

  r.stage = ProbeStage::handshake;
  ssl::stream<beast::tcp_stream> tls(std::move(tcp_s), impl_->ctx);
  SSL* s = tls.native_handle();
  const std::string sni = dane && !dane->base_domain.empty() ? dane->base_domain : host;
  SSL_set_tlsext_host_name(s, sni.c_str());
  bool dane_enabled = false;
  if (dane) {
    std::size_t added = 0;
    if (SSL_dane_enable(s, sni.c_str()) > 0) {
      if (host != sni) SSL_add1_host(s, host.c_str());
      SSL_dane_set_flags(s, DANE_FLAG_NO_DANE_EE_NAMECHECKS);  // RFC 7672 §3.1.1
      for (const TlsaRecord& t : dane->records) {
        if (!t.usable || (t.usage != 2 && t.usage != 3)) continue;  // PKIX-* not for SMTP (§3.1.3)
        if (SSL_dane_tlsa_add(s, t.usage, t.selector, t.matching_type,
                              reinterpret_cast<const unsigned char*>(t.data.data()), t.data.size()) > 0) {
          ++added;
        }
      }
    }
    dane_enabled = added > 0;
    if (!dane_enabled) {
      r.dane_checked = true;
      r.dane_error = "no usable TLSA record could be loaded";
    }
  }
  co_await tls.async_handshake(ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    r.timed_out = timed_out(ec, deadline);
    r.error = r.timed_out ? "timeout during the TLS handshake" : "TLS handshake failed: " + ec.message();
    co_return r;
  }
  r.tls = true;
  r.stage = ProbeStage::done;
  impl_->judge(s, host, dane_enabled, r);

  // QUIT, briefly: a server that does not answer it costs at most two seconds.
  get_lowest_layer(tls).expires_at(
      std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(2)));
  co_await send(tls, "QUIT\r\n", ec);
  if (!ec) {
    buffer.clear();
    (void)co_await read_reply(tls, buffer, ec);
  }
  co_return r;
}

}  // namespace tlsfence::check
