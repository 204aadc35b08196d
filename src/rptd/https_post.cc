#include "rptd/https_post.h"

// g++ 12 at -O2 reports a false -Wmismatched-new-delete inside Asio's coroutine frame allocator.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include "async/asio.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <iostream>

#include "dns/unbound_resolver.h"
#include "https/address_guard.h"
#include "tlsfence/version.h"

namespace tlsfence::rptd {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

struct Url {
  std::string host, target = "/";
  unsigned short port = 443;
};

bool parse_url(const std::string& url, Url& u) {
  const std::string scheme = "https://";
  if (url.compare(0, scheme.size(), scheme) != 0) return false;
  std::string rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) u.target = rest.substr(slash);
  std::string port_text;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6 literal][:port]
    const auto close = authority.find(']');
    if (close == std::string::npos) return false;
    const std::string after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return false;
    if (!after.empty()) port_text = after.substr(1);
    authority = authority.substr(1, close - 1);
  } else if (auto colon = authority.rfind(':'); colon != std::string::npos) {
    port_text = authority.substr(colon + 1);
    authority = authority.substr(0, colon);
  }
  if (!port_text.empty()) {
    if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos) return false;
    const unsigned long p = std::stoul(port_text);
    if (p == 0 || p > 65535) return false;
    u.port = static_cast<unsigned short>(p);
  }
  u.host = authority;
  return !u.host.empty();
}

Task<PostResult> post(const Config& cfg, dns::UnboundResolver& resolver, ssl::context& ctx, Url u,
                      const std::string& body, std::chrono::seconds timeout) {
  std::vector<std::string> addresses;
  boost::system::error_code literal_ec;
  const auto literal = boost::asio::ip::make_address(u.host, literal_ec);
  if (!literal_ec) {
    addresses.push_back(literal.to_string());
  } else {
    for (std::uint16_t type : {std::uint16_t{28}, std::uint16_t{1}}) {
      auto a = co_await resolver.query(u.host, type);
      for (const auto& rd : a.rdata) {
        if (rd.size() == 4) {
          addresses.push_back(boost::asio::ip::make_address_v4(
                                  boost::asio::ip::address_v4::bytes_type{
                                      static_cast<unsigned char>(rd[0]), static_cast<unsigned char>(rd[1]),
                                      static_cast<unsigned char>(rd[2]), static_cast<unsigned char>(rd[3])})
                                  .to_string());
        } else if (rd.size() == 16) {
          boost::asio::ip::address_v6::bytes_type b{};
          for (int i = 0; i < 16; ++i) b[i] = static_cast<unsigned char>(rd[i]);
          addresses.push_back(boost::asio::ip::make_address_v6(b).to_string());
        }
      }
    }
  }
  if (addresses.empty()) co_return PostResult{false, "no address for " + u.host};
  std::string errors, refused;
  for (const auto& address : addresses) {
    const auto cls = https::classify_address(address);
    if (!https::address_allowed(cls, cfg.tlsrpt.allow_private_addresses)) {
      refused += (refused.empty() ? "" : ", ") + address + " (" + std::string(https::to_string(cls)) + ")";
      continue;
    }
    boost::system::error_code ec;
    beast::tcp_stream stream(co_await asio::this_coro::executor);
    stream.expires_after(timeout);
    co_await stream.async_connect(tcp::endpoint(boost::asio::ip::make_address(address), u.port),
                                  asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      errors += address + ": " + ec.message() + "; ";
      continue;
    }
    ssl::stream<beast::tcp_stream> tls(std::move(stream), ctx);
    SSL* s = tls.native_handle();
    const bool named = literal_ec.operator bool();  // a host name, not an IP literal
    if (named ? (SSL_set_tlsext_host_name(s, u.host.c_str()) != 1 || SSL_set1_host(s, u.host.c_str()) != 1)
              : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), u.host.c_str()) != 1) {
      co_return PostResult{false, "cannot set TLS server name " + u.host};
    }
    co_await tls.async_handshake(ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      long verify = SSL_get_verify_result(s);
      if (verify != X509_V_OK)
        co_return PostResult{
            false, "certificate of " + u.host + " not valid: " + X509_verify_cert_error_string(verify)};
      co_return PostResult{false, "TLS handshake with " + u.host + " failed: " + ec.message()};
    }
    http::request<http::string_body> req{http::verb::post, u.target, 11};
    req.set(http::field::host, u.port == 443 ? u.host : u.host + ":" + std::to_string(u.port));
    req.set(http::field::user_agent, "tlsfence/" TLSFENCE_VERSION);
    req.set(http::field::content_type, "application/tlsrpt+gzip");
    req.set(http::field::connection, "close");
    req.body() = body;
    req.prepare_payload();
    co_await http::async_write(tls, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return PostResult{false, "sending the request: " + ec.message()};
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024);
    co_await http::async_read(tls, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec && ec != http::error::end_of_stream)
      co_return PostResult{false, "reading the response: " + ec.message()};
    const int status = static_cast<int>(parser.get().result_int());
    co_return PostResult{status >= 200 && status <= 299, "HTTP status " + std::to_string(status)};
  }
  if (errors.empty()) {
    co_return PostResult{false, "refused to connect to " + u.host + ": address not allowed: " + refused +
                                    " (see [tlsrpt] allow-private-addresses)"};
  }
  if (!refused.empty()) errors += "refused (not allowed): " + refused;
  co_return PostResult{false, "cannot connect to " + u.host + ": " + errors};
}

}  // namespace

PostResult https_post_report(const Config& cfg, const std::string& url, const std::string& gzip_body,
                             std::chrono::seconds timeout) {
  Url u;
  if (!parse_url(url, u)) return {false, "not an https URL: " + url};
  std::cout.flush();  // libunbound may fork a worker that exits through exit()
  std::fflush(nullptr);
  asio::io_context io;
  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  if (cfg.mta_sts.ca_file.empty()) {
    ctx.set_default_verify_paths(ec);
  } else {
    ctx.load_verify_file(cfg.mta_sts.ca_file, ec);
  }
  if (ec) return {false, "cannot load CA certificates: " + ec.message()};
  dns::UnboundResolver resolver(io, cfg.dns);
  PostResult result;
  std::exception_ptr failure;
  asio::co_spawn(
      io, [&]() -> Task<void> { result = co_await post(cfg, resolver, ctx, u, gzip_body, timeout); },
      [&](std::exception_ptr e) {
        failure = e;
        io.stop();
      });
  io.run();
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      return {false, e.what()};
    }
  }
  return result;
}

}  // namespace tlsfence::rptd
