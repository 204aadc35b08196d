// libunbound behind DnsSource. Trusts only libunbound's own validation (secure/bogus flags);
// every libunbound error becomes an answer, configuration errors become DnsConfigError.
// g++ 12 misreports Asio coroutine frames (operator new/delete of awaitable_frame).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include "dns/unbound_resolver.h"

#include <arpa/inet.h>
#include <unbound.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <system_error>
#include <unordered_map>

#include "async/asio.h"  // before any other Asio header

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>

namespace tlsfence::dns {
namespace {

constexpr int kClassIN = 1;

struct CtxDelete {
  void operator()(ub_ctx* c) const { ub_ctx_delete(c); }
};
struct ResultFree {
  void operator()(ub_result* r) const { ub_resolve_free(r); }
};

std::string strip_dot(const char* name) {
  std::string s = name ? name : "";
  if (s.size() > 1 && s.back() == '.') s.pop_back();
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void check(int rc, const std::string& what) {
  if (rc != 0) throw DnsConfigError(what + ": " + ub_strerror(rc));
}

// "IP" or "IP@PORT" → "IP@PORT" for ub_ctx_set_fwd; throws on anything else.
std::string forwarder_spec(const std::string& spec) {
  std::string ip = spec, port = "53";
  if (auto at = spec.find('@'); at != std::string::npos) {
    ip = spec.substr(0, at);
    port = spec.substr(at + 1);
  }
  unsigned char buf[16];
  bool ip_ok = inet_pton(AF_INET, ip.c_str(), buf) == 1 || inet_pton(AF_INET6, ip.c_str(), buf) == 1;
  bool port_ok = !port.empty() && port.size() <= 5 &&
                 std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                 std::stoul(port) >= 1 && std::stoul(port) <= 65535;
  if (!ip_ok || !port_ok) throw DnsConfigError("dns.forwarder: \"" + spec + "\" is not IP[@PORT]");
  return ip + "@" + port;
}

bool writable(const std::filesystem::path& p) {
  std::filesystem::path dir = p.parent_path().empty() ? "." : p.parent_path();
  return access(p.c_str(), W_OK) == 0 && access(dir.c_str(), W_OK) == 0;
}

// libunbound rewrites an auto-trust-anchor file (RFC 5011) through a temporary file in the
// same directory, possibly after the daemon has dropped privileges. So:
//  - with a state directory: the file is used from there; one elsewhere (e.g. Debian's
//    read-only /usr/share/dns/root.key) is copied in first. An existing non-empty copy is
//    kept: it may hold keys rolled since.
//  - without: the file is used in place when writable, else copied into a private
//    directory made under the system temp directory.
std::string usable_anchor_file(const std::string& file, std::filesystem::path state_dir) {
  if (access(file.c_str(), R_OK) != 0) throw DnsConfigError("dns.trust-anchor-file: cannot read " + file);
  std::error_code ec;
  std::filesystem::path source = std::filesystem::absolute(file, ec);
  if (state_dir.empty()) {
    if (writable(source)) return file;
    std::string tmpl = (std::filesystem::temp_directory_path() / "tlsfence-anchor-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr)
      throw DnsConfigError("dns.trust-anchor-file: " + file +
                           " is not writable and no private directory could be made for a copy");
    state_dir = tmpl;
  }
  std::filesystem::create_directories(state_dir, ec);
  std::filesystem::path dir = std::filesystem::weakly_canonical(state_dir, ec);
  if (std::filesystem::weakly_canonical(source.parent_path(), ec) == dir) return file;
  std::filesystem::path copy = dir / source.filename();
  if (!std::filesystem::exists(copy, ec) || std::filesystem::file_size(copy, ec) == 0) {
    ec.clear();
    std::filesystem::copy_file(source, copy, std::filesystem::copy_options::overwrite_existing, ec);
    if (ec)
      throw DnsConfigError("dns.trust-anchor-file: copying " + file + " to " + copy.string() +
                           " failed: " + ec.message());
  }
  if (!writable(copy))
    throw DnsConfigError("dns.trust-anchor-file: the copy " + copy.string() + " is not writable");
  return copy.string();
}

}  // namespace

// One query in flight. Owned jointly by the waiting coroutine and Core::pending (until
// libunbound answers or the query is cancelled). `core` is null once the resolver is gone.
struct Pending {
  Pending(asio::io_context& io, UnboundResolver::Core* c) : timer(io), core(c) {}
  asio::steady_timer timer;  // deadline; cancelled early when the answer arrives
  UnboundResolver::Core* core;
  int async_id = 0;
  bool answered = false;
  DnsAnswer answer;
};

struct UnboundResolver::Core {
  Core(asio::io_context& io, std::chrono::seconds timeout) : io(io), fd(io), timeout(timeout) {}
  asio::io_context& io;
  std::unique_ptr<ub_ctx, CtxDelete> ctx;
  asio::posix::stream_descriptor fd;
  std::chrono::seconds timeout;
  std::string anchor_in_use;
  bool watching = false;
  std::unordered_map<Pending*, std::shared_ptr<Pending>> pending;

  static void on_result(void* data, int err, ub_result* raw);
  void watch(const std::shared_ptr<Core>& self);
  void done(Pending* p);
  void fail_all(const std::string& why);  // libunbound broke (e.g. its worker died)
};

void UnboundResolver::Core::fail_all(const std::string& why) {
  for (auto& [raw, p] : pending) {
    ub_cancel(ctx.get(), p->async_id);
    p->answer.error = why;
    p->answered = true;
    p->timer.cancel();
  }
  pending.clear();
}

void UnboundResolver::Core::on_result(void* data, int err, ub_result* raw) {
  std::unique_ptr<ub_result, ResultFree> r(raw);
  auto* p = static_cast<Pending*>(data);
  DnsAnswer& a = p->answer;
  if (err != 0) {
    a.error = ub_strerror(err);
  } else if (r) {
    a.rcode = r->rcode;
    a.havedata = r->havedata != 0;
    a.dnssec = r->secure ? DnssecState::secure : r->bogus ? DnssecState::bogus : DnssecState::insecure;
    if (r->why_bogus) a.why_bogus = r->why_bogus;
    a.ttl = r->ttl > 0 ? static_cast<std::uint32_t>(r->ttl) : 0;
    a.canonname = strip_dot(r->canonname ? r->canonname : r->qname);
    for (int i = 0; r->data && r->data[i]; ++i)
      a.rdata.emplace_back(r->data[i], static_cast<std::size_t>(r->len[i]));
    if (!a.havedata) a.rdata.clear();
  } else {
    a.error = "libunbound returned no result";
  }
  p->answered = true;
  p->timer.cancel();
  p->core->done(p);
}

void UnboundResolver::Core::done(Pending* p) {
  pending.erase(p);  // may free *p when the coroutine has already gone
  if (pending.empty() && watching) {
    boost::system::error_code ec;
    fd.cancel(ec);  // let the io_context go idle
  }
}

void UnboundResolver::Core::watch(const std::shared_ptr<Core>& self) {
  if (watching || pending.empty()) return;
  watching = true;
  std::weak_ptr<Core> weak = self;
  fd.async_wait(asio::posix::stream_descriptor::wait_read, [weak](boost::system::error_code ec) {
    auto core = weak.lock();
    if (!core) return;
    core->watching = false;
    if (!ec) {
      int rc = ub_process(core->ctx.get());  // calls on_result for each finished query
      if (rc != 0) core->fail_all(std::string("libunbound: ") + ub_strerror(rc));
    }
    core->watch(core);
  });
}

UnboundResolver::UnboundResolver(asio::io_context& io, const Config::Dns& config,
                                 std::filesystem::path state_dir)
    : core_(std::make_shared<Core>(io, std::chrono::seconds(config.timeout_seconds))) {
  core_->ctx.reset(ub_ctx_create());
  ub_ctx* ctx = core_->ctx.get();
  if (ctx == nullptr) throw DnsConfigError("dns: libunbound could not create a context");
  // Verbose validator reasons so why_bogus says what failed; the conf file may override.
  check(ub_ctx_set_option(ctx, "val-log-level:", "2"), "dns: val-log-level");
  if (!config.unbound_conf.empty()) {
    if (access(config.unbound_conf.c_str(), R_OK) != 0)
      throw DnsConfigError("dns.unbound-conf: cannot read " + config.unbound_conf);
    check(ub_ctx_config(ctx, config.unbound_conf.c_str()), "dns.unbound-conf: " + config.unbound_conf);
  }
  if (!config.trust_anchor_file.empty()) {
    core_->anchor_in_use = usable_anchor_file(config.trust_anchor_file, state_dir);
    check(ub_ctx_add_ta_autr(ctx, core_->anchor_in_use.c_str()),
          "dns.trust-anchor-file: " + core_->anchor_in_use);
  }
  for (const std::string& f : config.forwarder) {
    std::string spec = forwarder_spec(f);
    check(ub_ctx_set_fwd(ctx, spec.c_str()), "dns.forwarder: " + f);
  }
  check(ub_ctx_async(ctx, 0), "dns: ub_ctx_async");
  int fd = ub_fd(ctx);
  if (fd < 0) throw DnsConfigError("dns: libunbound has no result descriptor");
  core_->fd.assign(fd);
}

UnboundResolver::~UnboundResolver() {
  // Waiting coroutines resume with "resolver shut down"; libunbound calls nothing any more.
  for (auto& [raw, p] : core_->pending) {
    p->core = nullptr;
    p->answer.error = "resolver shut down";
    p->answered = true;
    p->timer.cancel();
  }
  core_->pending.clear();
  boost::system::error_code ec;
  core_->fd.cancel(ec);
  core_->fd.release();  // the descriptor belongs to libunbound
  core_->ctx.reset();
}

Task<DnsAnswer> UnboundResolver::query(std::string name, std::uint16_t type) {
  if (!name.empty() && name.back() == '.') name.pop_back();
  auto p = std::make_shared<Pending>(core_->io, core_.get());
  p->answer.qname = name;
  p->answer.qtype = type;
  int rc = ub_resolve_async(core_->ctx.get(), (name.empty() ? "." : name).c_str(), type, kClassIN, p.get(),
                            &Core::on_result, &p->async_id);
  if (rc != 0) {
    p->answer.error = ub_strerror(rc);
    co_return p->answer;
  }
  core_->pending.emplace(p.get(), p);
  core_->watch(core_);
  p->timer.expires_after(core_->timeout);
  if (!p->answered) {
    boost::system::error_code ec;
    co_await p->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (!p->answered) {
    // Deadline: cancel in libunbound, answer timed_out. `p->core` is valid: not shut down.
    ub_cancel(p->core->ctx.get(), p->async_id);
    p->answer.timed_out = true;
    p->answer.error.clear();
    p->core->done(p.get());
  }
  co_return p->answer;
}

std::size_t UnboundResolver::in_flight() const {
  return core_->pending.size();
}
const std::string& UnboundResolver::trust_anchor_in_use() const {
  return core_->anchor_in_use;
}

}  // namespace tlsfence::dns
