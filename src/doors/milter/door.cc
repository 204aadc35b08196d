// The milter door on libmilter: see door.h for the steps, decisions and threading.
#include "doors/milter/door.h"

// g++ 12 misreads Boost 1.74 awaitable frames' sized operator delete (false positive).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "util/listen_spec.h"
#include "util/log.h"

namespace tlsfence::milter {

namespace {

// Per connection; owned by libmilter's context through smfi_setpriv. Independent of the
// door, so close can free it even after the door is gone.
struct Session {
  std::string client_address;
  // SMFIP_NR_* steps the MTA agreed not to wait for: their callbacks must answer
  // SMFIS_NOREPLY, always. A failure there is answered at the next step that replies.
  unsigned long no_reply = 0;
  bool deferred_failure = false;
  MessageState message;  // the current message
};

std::string address_text(const sockaddr* sa) {
  if (sa == nullptr) return {};
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    if (inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf)) return buf;
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf)) return buf;
  }
  return {};
}

Task<void> run_lookup(PolicyLookup& lookup, std::string key,
                      std::shared_ptr<std::promise<PolicyDecision>> p) {
  try {
    p->set_value(co_await lookup.decide(std::move(key)));
  } catch (...) {
    p->set_exception(std::current_exception());
  }
}

// The one door of this process, and the lock that keeps it alive while a callback uses it.
std::shared_mutex g_mutex;
MilterDoor::Impl* g_door = nullptr;
bool g_constructed = false;  // guarded by g_mutex

}  // namespace

struct MilterDoor::Impl {
  PolicyLookup& lookup;
  asio::io_context& io;
  // The reception rules, replaced as a whole by set_reception() (a reload) while callbacks
  // run: each callback works on the snapshot it took.
  struct Rules {
    policy::ReceptionOptions options;
    policy::ForcedTls forced;
  };
  mutable std::mutex rules_mutex;
  std::shared_ptr<const Rules> rules_now;

  MilterCounters counters;

  Impl(PolicyLookup& l, asio::io_context& i, policy::ReceptionOptions o, policy::ForcedTls f)
      : lookup(l), io(i), rules_now(std::make_shared<const Rules>(Rules{std::move(o), std::move(f)})) {}

  std::shared_ptr<const Rules> rules() const {
    std::lock_guard lock(rules_mutex);
    return rules_now;
  }

  // The lookup on the io thread, not waited for.
  void prefetch(const std::string& key) {
    ++counters.prefetched;
    asio::post(io, [this, key] { policy::prefetch(lookup, key, io.get_executor()); });
  }

  // The lookup on the io thread, waited for at most `wait` on this thread.
  std::optional<PolicyDecision> decide(const std::string& key, std::chrono::milliseconds wait) {
    auto p = std::make_shared<std::promise<PolicyDecision>>();
    auto f = p->get_future();
    asio::post(io, [this, key, p] { asio::co_spawn(io, run_lookup(lookup, key, p), asio::detached); });
    if (f.wait_for(wait) != std::future_status::ready) {
      ++counters.lookups_late;
      return std::nullopt;
    }
    try {
      return f.get();
    } catch (...) {
      return std::nullopt;
    }
  }
};

namespace {

Session* session_of(SMFICTX* ctx, MilterDoor::Impl* door) {
  auto* s = static_cast<Session*>(smfi_getpriv(ctx));
  if (s == nullptr) {
    s = new Session;
    if (smfi_setpriv(ctx, s) != MI_SUCCESS) {
      delete s;
      return nullptr;
    }
    if (door) {
      ++door->counters.connections;
      ++door->counters.connections_open;
    }
  }
  return s;
}

sfsistat internal_error(SMFICTX* ctx, MilterDoor::Impl* door, const char* where, const char* what) {
  if (door) ++door->counters.internal_errors;
  log::error("milter internal error", {{"door", "milter"}, {"callback", where}, {"error", what}});
  smfi_setreply(ctx, const_cast<char*>("451"), const_cast<char*>("4.3.5"),
                const_cast<char*>("tlsfence: internal error"));
  return SMFIS_TEMPFAIL;
}

// Runs `body(door, session)` under the door lock with the boundary catch every callback needs.
// `no_reply_step` (an SMFIP_NR_* flag, or 0): when the MTA agreed not to wait for this step's
// reply, the answer is SMFIS_NOREPLY whatever happens; a failure is then kept and answered
// (tempfail, with the reply text already set) at the next step that replies.
template <typename F>
sfsistat guarded(SMFICTX* ctx, const char* where, F body, unsigned long no_reply_step = 0) {
  std::shared_lock lock(g_mutex);
  MilterDoor::Impl* door = g_door;
  Session* s = nullptr;
  sfsistat r = SMFIS_CONTINUE;
  try {
    s = session_of(ctx, door);
    if (s == nullptr) return internal_error(ctx, door, where, "cannot store connection data");
    // An earlier no-reply step of this message failed: every step that replies tempfails
    // until the message ends (abort, or the next MAIL), so nothing leaves half-decided.
    if (s->deferred_failure && no_reply_step == 0) return SMFIS_TEMPFAIL;
    if (door != nullptr) r = body(*door, *s);  // no door: shutting down, let mail through untouched
  } catch (const std::exception& e) {
    r = internal_error(ctx, door, where, e.what());
  } catch (...) {
    r = internal_error(ctx, door, where, "unknown exception");
  }
  if (s == nullptr || (s->no_reply & no_reply_step) == 0) return r;
  if (r != SMFIS_CONTINUE) s->deferred_failure = true;
  return SMFIS_NOREPLY;
}

sfsistat on_negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long, unsigned long,
                      unsigned long* pf0, unsigned long* pf1, unsigned long* pf2, unsigned long* pf3) {
  std::shared_lock lock(g_mutex);
  const bool headers = g_door != nullptr && !g_door->rules()->forced.empty();
  unsigned long off = SMFIP_NOHELO | SMFIP_NOBODY | SMFIP_NOEOH | SMFIP_NOUNKNOWN;
  if (!headers) off |= SMFIP_NOHDRS;
  // Steps whose answer is always "continue": the MTA need not wait for them (one round trip
  // less each). RCPT, DATA and end of message keep their replies.
  unsigned long no_reply = f1 & (SMFIP_NR_CONN | SMFIP_NR_MAIL | (headers ? SMFIP_NR_HDR : 0));
  if (no_reply != 0) {
    Session* s = nullptr;
    try {
      s = session_of(ctx, g_door);
    } catch (...) {
    }
    if (s != nullptr) {
      s->no_reply = no_reply;
    } else {
      no_reply = 0;
    }
  }
  *pf0 = f0 & SMFIF_ADDHDRS;
  *pf1 = (f1 & off) | no_reply;
  *pf2 = 0;
  *pf3 = 0;
  if ((f0 & SMFIF_ADDHDRS) == 0) {
    log::warning("milter: the MTA does not allow adding headers; forced TLS cannot be marked",
                 {{"door", "milter"}});
  }
  return SMFIS_CONTINUE;
}

sfsistat on_connect(SMFICTX* ctx, char*, _SOCK_ADDR* addr) {
  return guarded(
      ctx, "connect",
      [&](MilterDoor::Impl&, Session& s) {
        s.client_address = address_text(addr);
        if (s.client_address.empty()) {
          if (const char* a = smfi_getsymval(ctx, const_cast<char*>("{client_addr}"))) s.client_address = a;
        }
        return SMFIS_CONTINUE;
      },
      SMFIP_NR_CONN);
}

sfsistat on_envfrom(SMFICTX* ctx, char** argv) {
  return guarded(
      ctx, "envfrom",
      [&](MilterDoor::Impl& door, Session& s) {
        s.deferred_failure = false;
        const char* auth = smfi_getsymval(ctx, const_cast<char*>("{auth_authen}"));
        s.message.on_mail(door.rules()->forced, argv && argv[0] ? argv[0] : "", auth ? auth : "",
                          s.client_address, door.counters);
        return SMFIS_CONTINUE;
      },
      SMFIP_NR_MAIL);
}

sfsistat on_envrcpt(SMFICTX* ctx, char** argv) {
  return guarded(ctx, "envrcpt", [&](MilterDoor::Impl& door, Session& s) {
    ++door.counters.recipients;
    const std::string recipient = argv && argv[0] ? std::string(policy::strip_angle_brackets(argv[0])) : "";
    const std::string key = policy::recipient_lookup_key(recipient);
    const auto rules = door.rules();
    std::optional<PolicyDecision> decision;
    if (!key.empty() && rules->options.on_dnssec_bogus == BogusAction::continue_) {
      door.prefetch(key);  // the decision cannot change the reply: do not wait for it
    } else if (!key.empty()) {
      decision = door.decide(key, rules->options.wait);
    }
    if (auto refusal = s.message.on_rcpt(rules->forced, rules->options.on_dnssec_bogus, recipient, decision,
                                         door.counters)) {
      smfi_setreply(ctx, const_cast<char*>(refusal->permanent ? "550" : "451"),
                    const_cast<char*>(refusal->permanent ? "5.7.5" : "4.7.5"), refusal->text.data());
      return refusal->permanent ? SMFIS_REJECT : SMFIS_TEMPFAIL;
    }
    return SMFIS_CONTINUE;
  });
}

// After the last RCPT: a message no rule forces needs nothing more from this door (no header
// to look at, nothing to add at end of message), so it is accepted here and the MTA sends
// this milter neither its headers nor the end of message (one round trip instead of one per
// header + eom; an MTA that does not offer the DATA step goes on to the header callbacks).
sfsistat on_data(SMFICTX* ctx) {
  return guarded(ctx, "data", [&](MilterDoor::Impl&, Session& s) {
    if (s.message.forced_by != policy::ForcedBy::none) return SMFIS_CONTINUE;
    s.message.reset();
    return SMFIS_ACCEPT;
  });
}

sfsistat on_header(SMFICTX* ctx, char* name, char* value) {
  return guarded(
      ctx, "header",
      [&](MilterDoor::Impl&, Session& s) {
        if (name && value) s.message.on_header(name, value);
        return SMFIS_CONTINUE;
      },
      SMFIP_NR_HDR);
}

sfsistat on_eom(SMFICTX* ctx) {
  return guarded(ctx, "eom", [&](MilterDoor::Impl& door, Session& s) {
    const char* qid = smfi_getsymval(ctx, const_cast<char*>("i"));
    const std::string_view queue_id = qid ? qid : "";
    if (s.message.wants_header(queue_id, door.counters)) {
      const std::string name(kForcedHeaderName), value(kForcedHeaderValue);
      if (smfi_addheader(ctx, const_cast<char*>(name.c_str()), const_cast<char*>(value.c_str())) !=
          MI_SUCCESS) {
        s.message.reset();
        return internal_error(ctx, &door, "eom", "smfi_addheader failed");
      }
      s.message.forced_marked(queue_id, door.counters);
    }
    s.message.reset();
    return SMFIS_CONTINUE;
  });
}

sfsistat on_abort(SMFICTX* ctx) {
  std::shared_lock lock(g_mutex);
  if (auto* s = static_cast<Session*>(smfi_getpriv(ctx))) {
    s->message.reset();
    s->deferred_failure = false;
  }
  return SMFIS_CONTINUE;
}

sfsistat on_close(SMFICTX* ctx) {
  std::shared_lock lock(g_mutex);
  auto* s = static_cast<Session*>(smfi_getpriv(ctx));
  if (s != nullptr) {
    smfi_setpriv(ctx, nullptr);
    delete s;
    if (g_door) --g_door->counters.connections_open;
  }
  return SMFIS_CONTINUE;
}

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

}  // namespace

std::string libmilter_spec(const std::string& listen) {
  const ListenSpecResult parsed = parse_listen_spec(listen);
  if (parsed.spec) return to_milter_spec(*parsed.spec);
  const std::string_view s = listen;
  const bool native = (starts_with(s, "local:/")) || ((starts_with(s, "inet:") || starts_with(s, "inet6:")) &&
                                                      s.find('@') != std::string_view::npos);
  if (native) return listen;
  throw MilterError("milter listen address \"" + listen + "\": " + parsed.error);
}

MilterDoor::MilterDoor(PolicyLookup& lookup, asio::io_context& io, const Config::Reception& reception,
                       std::string listen)
    : MilterDoor(lookup, io, policy::ReceptionOptions::from_config(reception),
                 policy::ForcedTls::from_config(reception), std::move(listen)) {}

MilterDoor::MilterDoor(PolicyLookup& lookup, asio::io_context& io, policy::ReceptionOptions options,
                       policy::ForcedTls forced, std::string listen)
    : impl_(std::make_unique<Impl>(lookup, io, std::move(options), std::move(forced))),
      spec_(libmilter_spec(listen)) {
  std::unique_lock lock(g_mutex);
  if (g_constructed) throw MilterError("only one milter door per process (libmilter is process-global)");
  g_constructed = true;
  g_door = impl_.get();
}

void MilterDoor::set_reception(policy::ReceptionOptions options, policy::ForcedTls forced) {
  auto fresh = std::make_shared<const Impl::Rules>(Impl::Rules{std::move(options), std::move(forced)});
  std::lock_guard lock(impl_->rules_mutex);
  impl_->rules_now = std::move(fresh);
}

MilterDoor::~MilterDoor() {
  {
    std::unique_lock lock(g_mutex);  // waits for callbacks in progress
    g_door = nullptr;
    g_constructed = false;
  }
  // Remove the socket file libmilter left behind (only if it is still a socket).
  struct stat st {};
  if (started_ && unix_path() && ::lstat(unix_path()->c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    ::unlink(unix_path()->c_str());
  }
}

void MilterDoor::start(mode_t unix_mode) {
  static char name[] = "tlsfence";
  smfiDesc desc{};
  desc.xxfi_name = name;
  desc.xxfi_version = SMFI_VERSION;
  desc.xxfi_flags = SMFIF_ADDHDRS;
  desc.xxfi_connect = on_connect;
  desc.xxfi_envfrom = on_envfrom;
  desc.xxfi_envrcpt = on_envrcpt;
  desc.xxfi_data = on_data;
  desc.xxfi_header = on_header;
  desc.xxfi_eom = on_eom;
  desc.xxfi_abort = on_abort;
  desc.xxfi_close = on_close;
  desc.xxfi_negotiate = on_negotiate;

  const auto path = unix_path();
  if (path) {
    const std::filesystem::path parent = std::filesystem::path(*path).parent_path();
    std::error_code ec;
    if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
      if (::mkdir(parent.c_str(), 0750) != 0 && errno != EEXIST) {
        throw MilterError("milter: cannot create " + parent.string() + ": " + std::strerror(errno));
      }
    }
  }
  if (smfi_setconn(spec_.data()) != MI_SUCCESS)
    throw MilterError("milter: smfi_setconn(" + spec_ + ") failed");
  if (smfi_register(desc) != MI_SUCCESS) throw MilterError("milter: smfi_register failed");
  // The timeout libmilter waits for the MTA; above Postfix's milter_*_timeout defaults.
  smfi_settimeout(7210);
  if (smfi_opensocket(true) != MI_SUCCESS) throw MilterError("milter: cannot listen on " + spec_);
  if (path && ::chmod(path->c_str(), unix_mode) != 0) {
    throw MilterError("milter: cannot chmod " + *path + ": " + std::strerror(errno));
  }
  started_ = true;
  log::info("milter listening", {{"door", "milter"}, {"listen", spec_}});
}

int MilterDoor::run() {
  return smfi_main();
}

namespace {

// Where to connect to reach our own listening socket: unix path, or a literal IPv4/IPv6
// address (a wildcard address becomes loopback). Empty for a host name.
std::optional<std::pair<sockaddr_storage, socklen_t>> self_address(const std::string& spec) {
  sockaddr_storage ss{};
  for (std::string_view prefix : {"unix:", "local:"}) {
    if (starts_with(spec, prefix)) {
      const std::string path = spec.substr(prefix.size());
      auto* sa = reinterpret_cast<sockaddr_un*>(&ss);
      if (path.size() >= sizeof sa->sun_path) return std::nullopt;
      sa->sun_family = AF_UNIX;
      std::memcpy(sa->sun_path, path.c_str(), path.size());
      return std::make_pair(ss, static_cast<socklen_t>(sizeof(sockaddr_un)));
    }
  }
  const bool v6 = starts_with(spec, "inet6:");
  if (!v6 && !starts_with(spec, "inet:")) return std::nullopt;
  const std::size_t colon = spec.find(':');
  const std::size_t at = spec.find('@');
  if (at == std::string::npos) return std::nullopt;
  const int port = std::atoi(spec.substr(colon + 1, at - colon - 1).c_str());
  std::string host = spec.substr(at + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (port <= 0 || port > 65535) return std::nullopt;
  if (v6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET6, host.c_str(), &sa->sin6_addr) != 1) return std::nullopt;
    if (IN6_IS_ADDR_UNSPECIFIED(&sa->sin6_addr)) sa->sin6_addr = in6addr_loopback;
    return std::make_pair(ss, static_cast<socklen_t>(sizeof(sockaddr_in6)));
  }
  auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
  sa->sin_family = AF_INET;
  sa->sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &sa->sin_addr) != 1) return std::nullopt;
  if (sa->sin_addr.s_addr == htonl(INADDR_ANY)) sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return std::make_pair(ss, static_cast<socklen_t>(sizeof(sockaddr_in)));
}

}  // namespace

void MilterDoor::stop() {
  // smfi_stop needs the lock libmilter's accept loop holds while it polls (up to 5 s).
  // Connections to our own socket wake the loop so the stop happens now; they are accepted
  // and end at once (no callback sees them, they never negotiate).
  std::atomic<bool> stopped{false};
  std::thread waker;
  if (const auto self = self_address(spec_)) {
    waker = std::thread([&stopped, self = *self] {
      for (int i = 0; i < 200 && !stopped.load(); ++i) {
        const int fd = ::socket(self.first.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
          (void)::connect(fd, reinterpret_cast<const sockaddr*>(&self.first), self.second);
          ::close(fd);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
      }
    });
  }
  smfi_stop();
  stopped = true;
  if (waker.joinable()) waker.join();
}

std::optional<std::string> MilterDoor::unix_path() const {
  for (std::string_view prefix : {"unix:", "local:"}) {
    if (starts_with(spec_, prefix)) return spec_.substr(prefix.size());
  }
  return std::nullopt;
}

MilterStats MilterDoor::stats() const {
  return impl_->counters.snapshot();
}

}  // namespace tlsfence::milter
