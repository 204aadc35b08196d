// A milter for the miltertest scripts: the real milter door (engine native: NativeMilterDoor on
// an io_context, accepting on a Listener; engine libmilter: MilterDoor) over a table-driven fake
// PolicyLookup (bogus.test → temp_fail dnssec-invalid; slow.test → answers after 5 s;
// anything else → no policy). Exits cleanly (status 0, so LeakSanitizer runs at exit in the
// ASan build) on SIGUSR1 (what run_miltertest.sh sends), SIGTERM/SIGINT, on stdin EOF with
// --exit-on-stdin-eof, or when libmilter stops by itself.
//
// usage: milter_harness --listen unix:/path [--engine native|libmilter]
//          [--on-dnssec-bogus continue|defer|reject]
//          [--wait-ms N] [--forced-sender R]… [--forced-recipient-domain R]…
//          [--forced-sasl-user R]… [--forced-client-network R]… [--exit-on-stdin-eof]
// g++ 12 misreads Boost 1.74 awaitable frames' sized operator delete (false positive).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "async/asio.h"
#include "doors/milter/door.h"
#include "doors/milter/native.h"
#include "util/listen_spec.h"
#include "util/listener.h"

#include <boost/asio/redirect_error.hpp>

namespace {

using namespace tlsfence;

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
      t.expires_after(std::chrono::seconds(5));
      co_await t.async_wait(asio::use_awaitable);
      d.verdict = Verdict::temp_fail;
      d.result_type = "dnssec-invalid";
      d.mx_dnssec = DnssecState::bogus;
    } else {
      d.verdict = Verdict::no_policy;
    }
    co_return d;
  }
};

std::mutex stop_mutex;
std::condition_variable stop_cv;
bool stop_requested = false;
const char* stop_reason = "";

void request_stop(const char* why) {
  std::lock_guard lock(stop_mutex);
  if (!stop_requested) stop_reason = why;
  stop_requested = true;
  stop_cv.notify_all();
}

int usage() {
  std::fprintf(stderr,
               "usage: milter_harness --listen SPEC [--engine native|libmilter]\n"
               "  [--on-dnssec-bogus continue|defer|reject] [--wait-ms N]\n"
               "  [--forced-sender R]... [--forced-recipient-domain R]... [--forced-sasl-user R]...\n"
               "  [--forced-client-network R]... [--exit-on-stdin-eof]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Config::Reception reception;
  std::string listen;
  long wait_ms = 2000;
  bool stdin_eof = false;
  std::string engine = "native";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "milter_harness: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--listen") {
      listen = value();
    } else if (a == "--engine") {
      engine = value();
      if (engine != "native" && engine != "libmilter") return usage();
    } else if (a == "--on-dnssec-bogus") {
      const std::string v = value();
      if (v == "continue")
        reception.on_dnssec_bogus = BogusAction::continue_;
      else if (v == "defer")
        reception.on_dnssec_bogus = BogusAction::defer;
      else if (v == "reject")
        reception.on_dnssec_bogus = BogusAction::reject;
      else
        return usage();
    } else if (a == "--wait-ms") {
      wait_ms = std::stol(value());
    } else if (a == "--forced-sender") {
      reception.forced_tls_sender.push_back(value());
    } else if (a == "--forced-recipient-domain") {
      reception.forced_tls_recipient_domain.push_back(value());
    } else if (a == "--forced-sasl-user") {
      reception.forced_tls_sasl_user.push_back(value());
    } else if (a == "--forced-client-network") {
      reception.forced_tls_client_network.push_back(value());
    } else if (a == "--exit-on-stdin-eof") {
      stdin_eof = true;
    } else {
      return usage();
    }
  }
  if (listen.empty()) return usage();

  // Every thread started from here on inherits the blocked set; one of them sigwait()s.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGUSR1);  // libmilter does not wait for this one: a fast, sure stop
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread io_thread([&io] { io.run(); });

  TableLookup lookup;
  auto options = policy::ReceptionOptions::from_config(reception);
  options.wait = std::chrono::milliseconds(wait_ms);
  std::unique_ptr<milter::MilterDoor> libmilter_door;
  std::unique_ptr<milter::NativeMilterDoor> native_door;
  std::unique_ptr<Listener> listener;
  std::thread milter_thread;
  try {
    if (engine == "libmilter") {
      libmilter_door = std::make_unique<milter::MilterDoor>(
          lookup, io, options, policy::ForcedTls::from_config(reception), listen);
      libmilter_door->start();
      milter_thread = std::thread([&] {
        const int rc = libmilter_door->run();
        if (rc != 0) std::fprintf(stderr, "milter_harness: smfi_main returned %d\n", rc);
        request_stop("libmilter stopped");
      });
    } else {
      native_door = std::make_unique<milter::NativeMilterDoor>(lookup, options,
                                                               policy::ForcedTls::from_config(reception));
      const auto spec = parse_listen_spec(listen);
      if (!spec.spec) throw std::runtime_error("--listen " + listen + ": " + spec.error);
      listener = std::make_unique<Listener>(io, *spec.spec);
      asio::co_spawn(
          io,
          [&]() -> Task<void> {
            while (true) {
              boost::system::error_code ec;
              auto sock =
                  co_await listener->acceptor().async_accept(asio::redirect_error(asio::use_awaitable, ec));
              if (ec) co_return;
              asio::co_spawn(io, native_door->serve(std::move(sock)), asio::detached);
            }
          },
          asio::detached);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "milter_harness: %s\n", e.what());
    work.reset();
    io.stop();
    io_thread.join();
    return 1;
  }
  std::thread signal_thread([&signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    request_stop("signal");
  });
  signal_thread.detach();  // may stay in sigwait if libmilter's own thread took the signal
  if (stdin_eof) {
    std::thread([] {
      char buf[256];
      while (::read(0, buf, sizeof buf) > 0) {
      }
      request_stop("stdin closed");
    }).detach();
  }

  {
    std::unique_lock lock(stop_mutex);
    stop_cv.wait(lock, [] { return stop_requested; });
  }
  std::fprintf(stderr, "milter_harness: stopping (%s)\n", stop_reason);
  milter::MilterStats s;
  if (libmilter_door) {
    libmilter_door->stop();
    milter_thread.join();
    s = libmilter_door->stats();
  } else {
    // Connections the client has closed end on the io thread: give them a moment.
    for (int i = 0; i < 200 && native_door->stats().connections_open != 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    s = native_door->stats();
  }
  std::fprintf(
      stderr,
      "milter_harness: connections=%llu open=%llu messages=%llu recipients=%llu refused=%llu "
      "forced=%llu tls_required_no=%llu late=%llu prefetched=%llu internal_errors=%llu "
      "protocol_errors=%llu\n",
      static_cast<unsigned long long>(s.connections), static_cast<unsigned long long>(s.connections_open),
      static_cast<unsigned long long>(s.messages), static_cast<unsigned long long>(s.recipients),
      static_cast<unsigned long long>(s.refused), static_cast<unsigned long long>(s.forced),
      static_cast<unsigned long long>(s.tls_required_no), static_cast<unsigned long long>(s.lookups_late),
      static_cast<unsigned long long>(s.prefetched), static_cast<unsigned long long>(s.internal_errors),
      static_cast<unsigned long long>(s.protocol_errors));
  const int status = s.internal_errors != 0 ? 1 : 0;
  libmilter_door.reset();
  work.reset();
  io.stop();
  io_thread.join();
  // After the io thread: coroutine frames it still held (a slow lookup) are destroyed with io.
  listener.reset();
  native_door.reset();
  return status;
}
