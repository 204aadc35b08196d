// Stand-in for tlsfenced's socketmap while the daemon is not wired: SocketmapDoor on one
// single-threaded io_context with an in-memory PolicyLookup that answers every key with a copy of
// one prebuilt MTA-STS decision (what a cache hit costs through the PolicyLookup interface: the
// decision is copied, reasons and policy lines included). Shows the door's own cost.
//
//   bench_door (--unix PATH | --tcp HOST:PORT) [--tlsrpt-attributes]
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "async/asio.h"
#include "doors/socketmap/server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>

using namespace tlsfence;

namespace {

class FixedLookup final : public PolicyLookup {
 public:
  FixedLookup() {
    d_.domain = "bench.example";
    d_.verdict = Verdict::policy;
    d_.source = Source::mta_sts;
    d_.level = "secure match=mx.bench.example servername=hostname";
    d_.mx_dnssec = DnssecState::insecure;
    d_.sts = StsPolicy{StsPolicy::Mode::enforce,
                       {"mx.bench.example"},
                       86400,
                       "20240101",
                       {"version: STSv1", "mode: enforce", "mx: mx.bench.example", "max_age: 86400"}};
    d_.ttl = 86400;
    d_.decided_at = std::chrono::system_clock::now();
    d_.reasons = {"MX RRset insecure: DANE does not apply",
                  "MTA-STS policy id 20240101 from cache, mode enforce"};
  }
  Task<PolicyDecision> decide(std::string) override { co_return d_; }

 private:
  PolicyDecision d_;
};

using Generic = asio::generic::stream_protocol;

Task<void> accept_loop(asio::basic_socket_acceptor<Generic>& acceptor, socketmap::SocketmapDoor& door) {
  for (;;) {
    boost::system::error_code ec;
    auto socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      continue;
    }
    asio::co_spawn(acceptor.get_executor(), door.serve(std::move(socket)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_door (--unix PATH | --tcp HOST:PORT) [--tlsrpt-attributes]\n");
    return 2;
  }
  socketmap::AnswerOptions options;
  for (int i = 3; i < argc; ++i)
    if (std::strcmp(argv[i], "--tlsrpt-attributes") == 0) options.tlsrpt_attributes = true;

  asio::io_context ctx(1);
  FixedLookup lookup;
  socketmap::SocketmapDoor door(lookup, options);
  door.set_log(
      [](LogLevel, std::string_view line) { std::fprintf(stderr, "%.*s\n", (int)line.size(), line.data()); });

  Generic::endpoint ep;
  const std::string where = argv[2];
  if (std::strcmp(argv[1], "--unix") == 0) {
    ::unlink(where.c_str());
    ep = Generic::endpoint(asio::local::stream_protocol::endpoint(where));
  } else {
    const auto colon = where.rfind(':');
    ep = Generic::endpoint(
        asio::ip::tcp::endpoint(asio::ip::make_address(where.substr(0, colon)),
                                static_cast<unsigned short>(std::atoi(where.c_str() + colon + 1))));
  }
  asio::basic_socket_acceptor<Generic> acceptor(ctx);
  acceptor.open(ep.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen(1024);
  asio::co_spawn(ctx, accept_loop(acceptor, door), asio::detached);
  asio::signal_set signals(ctx, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) { ctx.stop(); });
  ctx.run();
  const auto s = door.stats();
  std::fprintf(stderr, "bench_door: requests=%llu connections=%llu internal_errors=%llu\n",
               (unsigned long long)s.requests, (unsigned long long)s.connections_total,
               (unsigned long long)s.internal_errors);
  return 0;
}
