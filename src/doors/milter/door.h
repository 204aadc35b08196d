#pragma once
// The milter front door (Postfix smtpd_milters / non_smtpd_milters, Sendmail
// INPUT_MAIL_FILTER), on libmilter. Only this file pair knows libmilter; the policy code
// it calls (PolicyLookup, policy::ForcedTls, policy::bogus_refusal) knows nothing of it.
//
// Steps negotiated: connect (client address), envfrom (sender, `{auth_authen}`), envrcpt
// (prefetch + early refusal), data, header (only when forced-TLS rules exist: RFC 8689
// `TLS-Required: No`), eom, abort, close. HELO, EOH, body and unknown commands are
// negotiated out (SMFIP_NO*), headers too when there is no forced-TLS rule.
//  - data (after the last RCPT): a message no forced-TLS rule applies to is answered
//    SMFIS_ACCEPT, so the MTA sends this milter neither its headers nor its end of message
//    (one round trip instead of one per header + eom: most of the door's cost per message).
//  - envrcpt: the recipient domain's lookup is posted to the io_context (asio::co_spawn, on
//    the io thread) and the libmilter thread waits for it at most ReceptionOptions::wait; past
//    that the recipient continues and the lookup keeps running (it warms the cache). With
//    on-dnssec-bogus = continue the lookup is only started, never waited for.
//    DNSSEC-bogus domain: on-dnssec-bogus = defer → SMFIS_TEMPFAIL with
//    `451 4.7.5 DNSSEC validation failed for recipient domain …`; reject → SMFIS_REJECT with
//    `550 5.7.5 …`; continue → SMFIS_CONTINUE.
//  - eom: when the message is forced (sender, SASL user, client network, or an accepted
//    recipient's domain) and carries no `TLS-Required: No` header (name and value
//    case-insensitive, blanks ignored), adds `X-TLSfence: forced-tls` (SMFIF_ADDHDRS);
//    Postfix's milter_header_checks turns it into `FILTER tlsfence-encrypt:` (contrib/).
// Per-connection data is allocated at the first callback of a connection and freed in
// close (libmilter calls close on every path); abort and a new MAIL FROM reset the message.
//
// Failure: an exception in a callback is answered 451 4.3.5 (tempfail), never a crash.
//
// libmilter has process-global state (one smfiDesc, one listening socket, one smfi_main):
// ONE MilterDoor per process — a second constructor call throws MilterError. Threads:
// callbacks run on libmilter's threads; run() blocks in smfi_main (give it its own
// std::thread); the io_context must be run by another thread while the door serves.
// smfi_main also starts libmilter's own thread that sigwait()s SIGHUP/SIGINT/SIGTERM: a
// signal it catches makes run() return (a few seconds later); treat run() returning as
// "milter stopped". stop() (smfi_stop) may be called from any thread.
// Destruction removes the unix socket file and waits for callbacks in progress (each is bounded by `wait`);
// callbacks that arrive after it answer "continue" and still free their connection data.
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "async/asio.h"
#include "doors/milter/message.h"
#include "policy/forced_tls.h"
#include "policy/lookup.h"
#include "policy/reception.h"
#include "tlsfence/config.h"

namespace tlsfence::milter {

class MilterError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `listen` in tlsfence syntax (`unix:/path`, `inet:HOST:PORT`, `inet:[v6]:PORT`) becomes
// libmilter's (`unix:/path`, `inet:PORT@HOST`, `inet6:PORT@[v6]`); a spec already in
// libmilter syntax (`local:…`, `inet:PORT@HOST`, `inet6:PORT@HOST`) is kept. Throws
// MilterError for anything else.
std::string libmilter_spec(const std::string& listen);

class MilterDoor {
 public:
  // Throws policy::ForcedTlsError (bad rule), MilterError (bad spec, second instance).
  MilterDoor(PolicyLookup& lookup, asio::io_context& io, const Config::Reception& reception,
             std::string listen);
  MilterDoor(PolicyLookup& lookup, asio::io_context& io, policy::ReceptionOptions options,
             policy::ForcedTls forced, std::string listen);
  ~MilterDoor();
  MilterDoor(const MilterDoor&) = delete;
  MilterDoor& operator=(const MilterDoor&) = delete;

  // smfi_setconn + smfi_register + smfi_opensocket: the socket exists when this returns
  // (call it before dropping privileges). A unix socket gets `unix_mode`; its parent
  // directory is created (0750) when missing. Throws MilterError.
  void start(mode_t unix_mode = 0660);
  // smfi_main: serves until stop() or a signal libmilter catches. Returns smfi_main's status
  // (0 = MI_SUCCESS).
  int run();
  // smfi_stop: no new connections; run() returns — at once for a unix socket or a literal
  // address, which stop() connects to in order to wake libmilter's accept loop; within
  // about 5 s for a host name.
  void stop();
  // Replaces the reception rules (a SIGHUP reload), from any thread: callbacks already running
  // finish with the rules they started with; the next callback uses the new ones.
  void set_reception(policy::ReceptionOptions options, policy::ForcedTls forced);

  // The unix socket path, when listening on one (for chown before the privilege drop).
  std::optional<std::string> unix_path() const;
  const std::string& spec() const { return spec_; }
  MilterStats stats() const;

  // Used by the libmilter callbacks (door.cc); not for other callers.
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::string spec_;
  bool started_ = false;
};

}  // namespace tlsfence::milter
