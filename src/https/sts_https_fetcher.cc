// MTA-STS policy fetch over OpenSSL (see sts_https_fetcher.h). Boost.Beast and Asio's SSL
// are confined to this file.
#include "https/sts_https_fetcher.h"

// g++ 12 at -O2 reports a false -Wmismatched-new-delete inside Asio's coroutine frame
// allocator (thread_info_base.hpp: ::operator new(size) paired with ::operator delete(p)).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include "async/asio.h"
#include "https/address_guard.h"
#include "parse/dns_wire.h"
#include "tlsfence/limits.h"
#include "tlsfence/version.h"

namespace tlsfence::https {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using Error = StsFetchResult::Error;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr const char* kPath = "/.well-known/mta-sts.txt";
constexpr std::size_t kHeaderLimit = 16 * 1024;

StsFetchResult failure(Error e, std::string detail, std::string address = {}, int status = 0) {
  StsFetchResult r;
  r.error = e;
  r.detail = std::move(detail);
  r.address = std::move(address);
  r.http_status = status;
  return r;
}

std::string_view sv(beast::string_view v) {
  return {v.data(), v.size()};
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// "text/plain", optionally followed by parameters; case-insensitive (RFC 8461 §3.2).
bool is_text_plain(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  std::size_t semi = v.find(';');
  std::string_view type = v.substr(0, semi);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  constexpr std::string_view want = "text/plain";
  if (type.size() != want.size()) return false;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (lower(type[i]) != want[i]) return false;
  }
  return true;
}

std::string printable(std::string_view s, std::size_t max = 200) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > max) out += "...";
  return out;
}

// Classifies an I/O error on the TLS stream after the handshake.
StsFetchResult io_failure(const boost::system::error_code& ec, SteadyTime deadline, const std::string& what,
                          const std::string& address, int status = 0) {
  if (ec == http::error::body_limit) {
    return failure(Error::too_large, "body larger than " + std::to_string(limits::sts_body_max) + " bytes",
                   address, status);
  }
  if (ec == beast::error::timeout || std::chrono::steady_clock::now() >= deadline) {
    return failure(Error::timeout, "deadline expired while " + what, address, status);
  }
  return failure(Error::protocol, what + ": " + ec.message(), address, status);
}

// The two address lookups of one fetch, shared with the coroutines that run them.
struct Lookups {
  static constexpr std::uint16_t types[2] = {rrtype::AAAA, rrtype::A};  // connect order
  explicit Lookups(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  std::optional<DnsAnswer> answers[2];
  int pending = 2;
};

class HttpsStsFetcher final : public StsFetcher {
 public:
  HttpsStsFetcher(DnsSource& dns, StsFetcherOptions options)
      : dns_(dns), options_(std::move(options)), ctx_(ssl::context::tls_client) {
    SSL_CTX_set_min_proto_version(ctx_.native_handle(), TLS1_2_VERSION);
    ctx_.set_verify_mode(ssl::verify_peer);
    boost::system::error_code ec;
    if (options_.ca_file.empty()) {
      ctx_.set_default_verify_paths(ec);
      if (ec) throw std::runtime_error("mta-sts: cannot load OpenSSL's default CA paths: " + ec.message());
    } else {
      ctx_.load_verify_file(options_.ca_file, ec);
      if (ec) throw std::runtime_error("mta-sts.ca-file " + options_.ca_file + ": " + ec.message());
    }
  }

  Task<StsFetchResult> fetch(std::string domain) override {
    const SteadyTime deadline = std::chrono::steady_clock::now() + options_.timeout;
    const std::string host = "mta-sts." + domain;

    // AAAA and A in parallel, bounded by the fetch deadline (the lookups left running when
    // it expires finish on their own; they only touch the shared state).
    auto lookups = std::make_shared<Lookups>(co_await asio::this_coro::executor);
    for (std::size_t i = 0; i < 2; ++i) {
      asio::co_spawn(
          lookups->timer.get_executor(),
          [](DnsSource& dns, std::shared_ptr<Lookups> l, std::string name, std::size_t i) -> Task<void> {
            l->answers[i] = co_await dns.query(std::move(name), Lookups::types[i]);
            if (--l->pending == 0) l->timer.cancel();
          }(dns_, lookups, host, i),
          asio::detached);
    }
    if (lookups->pending > 0) {
      boost::system::error_code ec;
      lookups->timer.expires_at(deadline);
      co_await lookups->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (lookups->pending > 0) co_return failure(Error::timeout, "deadline expired while resolving " + host);

    std::vector<std::string> addresses;
    std::string dns_notes;
    for (std::size_t i = 0; i < 2; ++i) {
      const DnsAnswer& a = *lookups->answers[i];
      const bool is_a = Lookups::types[i] == rrtype::A;
      const std::string tname = is_a ? " A: " : " AAAA: ";
      if (a.failed()) {
        dns_notes += tname + (a.timed_out ? "timeout" : a.error.empty() ? "SERVFAIL" : a.error);
      } else if (a.dnssec == DnssecState::bogus) {
        dns_notes += tname + "DNSSEC bogus (" + a.why_bogus + ")";
      } else if (a.nxdomain()) {
        dns_notes += tname + "NXDOMAIN";
      } else if (a.rdata.empty()) {
        dns_notes += tname + "no data";
      } else {
        for (const auto& rd : a.rdata) {
          auto text = is_a ? parse::parse_a_rdata(rd) : parse::parse_aaaa_rdata(rd);
          if (text) addresses.push_back(*text);
        }
      }
    }
    if (addresses.empty()) co_return failure(Error::dns, "no address for " + host + ":" + dns_notes);

    std::string refused;
    std::string connect_errors;
    bool tried = false;
    for (const auto& address : addresses) {
      AddressClass cls = classify_address(address);
      if (!address_allowed(cls, options_.allow_private_addresses)) {
        refused += (refused.empty() ? "" : ", ") + address + " (" + std::string(to_string(cls)) + ")";
        continue;
      }
      tried = true;
      boost::system::error_code ec;
      auto ip = boost::asio::ip::make_address(address, ec);
      if (ec) continue;
      beast::tcp_stream stream(co_await asio::this_coro::executor);
      stream.expires_at(deadline);
      co_await stream.async_connect(tcp::endpoint(ip, options_.port),
                                    asio::redirect_error(asio::use_awaitable, ec));
      if (ec == beast::error::timeout || std::chrono::steady_clock::now() >= deadline) {
        co_return failure(Error::timeout, "deadline expired while connecting to " + address, address);
      }
      if (ec) {
        connect_errors += (connect_errors.empty() ? "" : ", ") + address + ": " + ec.message();
        continue;
      }
      co_return co_await exchange(std::move(stream), host, address, deadline);
    }
    if (!tried)
      co_return failure(Error::address_refused,
                        "SSRF guard refused every address of " + host + ": " + refused);
    co_return failure(Error::connect, "cannot connect to " + host + " port " + std::to_string(options_.port) +
                                          ": " + connect_errors +
                                          (refused.empty() ? "" : "; refused " + refused));
  }

 private:
  Task<StsFetchResult> exchange(beast::tcp_stream tcp, const std::string& host, const std::string& address,
                                SteadyTime deadline) {
    ssl::stream<beast::tcp_stream> tls(std::move(tcp), ctx_);
    SSL* s = tls.native_handle();
    if (SSL_set_tlsext_host_name(s, host.c_str()) != 1 || SSL_set1_host(s, host.c_str()) != 1) {
      co_return failure(Error::tls, "cannot set TLS server name " + host, address);
    }
    boost::system::error_code ec;
    co_await tls.async_handshake(ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      long verify = SSL_get_verify_result(s);
      if (verify != X509_V_OK) {
        co_return failure(Error::webpki,
                          "certificate of " + host + " not valid: " + X509_verify_cert_error_string(verify),
                          address);
      }
      if (ec == beast::error::timeout || std::chrono::steady_clock::now() >= deadline) {
        co_return failure(Error::timeout, "deadline expired during the TLS handshake", address);
      }
      co_return failure(Error::tls, "TLS handshake with " + host + " failed: " + ec.message(), address);
    }

    http::request<http::empty_body> req{http::verb::get, kPath, 11};
    req.set(http::field::host, options_.port == 443 ? host : host + ":" + std::to_string(options_.port));
    req.set(http::field::user_agent, "tlsfence/" TLSFENCE_VERSION);
    req.set(http::field::connection, "close");
    co_await http::async_write(tls, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return io_failure(ec, deadline, "sending the request", address);

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(limits::sts_body_max);
    co_await http::async_read_header(tls, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return io_failure(ec, deadline, "reading the response header", address);

    const auto& res = parser.get();
    int status = static_cast<int>(res.result_int());
    if (status >= 300 && status < 400) {
      co_return failure(Error::redirect,
                        "HTTP " + std::to_string(status) + " redirect to '" +
                            printable(sv(res[http::field::location])) + "' (not followed)",
                        address, status);
    }
    if (status != 200)
      co_return failure(Error::http_status, "HTTP status " + std::to_string(status), address, status);
    auto ct = res.find(http::field::content_type);
    if (ct == res.end()) co_return failure(Error::content_type, "no Content-Type", address, status);
    if (!is_text_plain(sv(ct->value()))) {
      co_return failure(Error::content_type,
                        "Content-Type '" + printable(sv(ct->value())) + "' is not text/plain", address,
                        status);
    }
    co_await http::async_read(tls, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return io_failure(ec, deadline, "reading the body", address, status);

    StsFetchResult ok;
    ok.http_status = status;
    ok.address = address;
    ok.body = std::move(parser.get().body());
    co_return ok;
  }

  DnsSource& dns_;
  StsFetcherOptions options_;
  ssl::context ctx_;
};

}  // namespace

StsFetcherOptions sts_fetcher_options(const Config::MtaSts& config) {
  StsFetcherOptions o;
  o.ca_file = config.ca_file;
  o.port = config.https_port;
  o.allow_private_addresses = config.allow_private_addresses;
  o.timeout = std::chrono::seconds(config.timeout_seconds);
  return o;
}

std::unique_ptr<StsFetcher> make_sts_fetcher(DnsSource& dns, StsFetcherOptions options) {
  return std::make_unique<HttpsStsFetcher>(dns, std::move(options));
}

}  // namespace tlsfence::https
