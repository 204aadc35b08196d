// The floor of the milter benchmark (variant f of run.sh): a milter that decides nothing. It
// negotiates the same steps as tlsfenced's door without forced-TLS rules (no HELO, body,
// end of headers, unknown commands or headers; no reply to connect and MAIL), answers every
// RCPT "continue" and accepts every message at DATA, on one thread, with no lookup. Whatever
// the sending Postfix spends with it is the cost of having a milter at all; what tlsfenced
// costs above it is the door's own.
//
// usage: bench_reception_null_milter SOCKET_PATH   (serves until killed)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>

#include "async/asio.h"
#include "parse/milter_wire.h"

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/write.hpp>

namespace {

namespace wire = tlsfence::parse::milter;
using tlsfence::Task;
using Local = boost::asio::local::stream_protocol;

Task<void> serve(Local::socket socket) {
  wire::PacketReader reader;
  std::array<char, 16 * 1024> buffer;
  std::string out;
  std::uint32_t no_reply = 0;
  while (true) {
    boost::system::error_code ec;
    const std::size_t n = co_await socket.async_read_some(
        boost::asio::buffer(buffer), boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (ec) co_return;
    reader.feed(std::string_view(buffer.data(), n));
    for (auto r = reader.next(); r.status == wire::PacketReader::Status::packet; r = reader.next()) {
      switch (r.packet.command) {
        case SMFIC_OPTNEG: {
          const auto offer = wire::decode_negotiation(r.packet.data);
          if (!offer) co_return;
          const std::uint32_t off =
              SMFIP_NOHELO | SMFIP_NOBODY | SMFIP_NOEOH | SMFIP_NOUNKNOWN | SMFIP_NOHDRS;
          no_reply = offer->protocol & (SMFIP_NR_CONN | SMFIP_NR_MAIL);
          out += wire::encode_negotiation({std::min<std::uint32_t>(offer->version, SMFI_PROT_VERSION), 0,
                                           (offer->protocol & off) | no_reply});
          break;
        }
        case SMFIC_MACRO:
        case SMFIC_ABORT:
        case SMFIC_QUIT_NC: break;
        case SMFIC_QUIT: co_return;
        case SMFIC_CONNECT:
          if ((no_reply & SMFIP_NR_CONN) == 0) out += wire::encode_packet(SMFIR_CONTINUE);
          break;
        case SMFIC_MAIL:
          if ((no_reply & SMFIP_NR_MAIL) == 0) out += wire::encode_packet(SMFIR_CONTINUE);
          break;
        case SMFIC_DATA: out += wire::encode_packet(SMFIR_ACCEPT); break;
        default: out += wire::encode_packet(SMFIR_CONTINUE); break;
      }
    }
    if (!out.empty()) {
      co_await boost::asio::async_write(socket, boost::asio::buffer(out),
                                        boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      out.clear();
      if (ec) co_return;
    }
  }
}

Task<void> accept_loop(Local::acceptor& acceptor) {
  while (true) {
    Local::socket s = co_await acceptor.async_accept(boost::asio::use_awaitable);
    boost::asio::co_spawn(acceptor.get_executor(), serve(std::move(s)), boost::asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s SOCKET_PATH\n", argv[0]);
    return 2;
  }
  ::unlink(argv[1]);
  boost::asio::io_context io(1);
  Local::acceptor acceptor(io, Local::endpoint(argv[1]));
  boost::asio::co_spawn(io, accept_loop(acceptor), boost::asio::detached);
  io.run();
  return 0;
}
