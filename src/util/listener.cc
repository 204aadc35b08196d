// Opening listeners (see listener.h). Only start-up code: errors are ListenError exceptions
// with the spec and the system's reason.
#include "util/listener.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace tlsfence {
namespace {

using generic = asio::generic::stream_protocol;

[[noreturn]] void fail(const ListenSpec& spec, const std::string& why) {
  throw ListenError("listen " + to_string(spec) + ": " + why);
}

// True when something accepts connections on the unix socket at `path`.
bool socket_in_use(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  bool in_use = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return in_use;
}

void clear_stale_socket(const ListenSpec& spec) {
  struct stat st {};
  if (::lstat(spec.path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    fail(spec, std::strerror(errno));
  }
  if (!S_ISSOCK(st.st_mode)) fail(spec, "exists and is not a socket; not replacing it");
  if (socket_in_use(spec.path)) fail(spec, "in use by another process");
  if (::unlink(spec.path.c_str()) != 0)
    fail(spec, std::string("cannot remove stale socket: ") + std::strerror(errno));
}

generic::endpoint inet_endpoint(asio::io_context& io, const ListenSpec& spec) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(spec.host, ec);
  if (!ec) return generic::endpoint(asio::ip::tcp::endpoint(address, spec.port));
  asio::ip::tcp::resolver resolver(io);
  auto results = resolver.resolve(spec.host, std::to_string(spec.port), asio::ip::tcp::resolver::passive, ec);
  if (ec || results.empty()) fail(spec, "cannot resolve host: " + ec.message());
  return generic::endpoint(results.begin()->endpoint());
}

}  // namespace

Listener::Listener(asio::io_context& io, const ListenSpec& spec, const ListenOptions& options)
    : spec_(spec), acceptor_(io) {
  boost::system::error_code ec;
  if (spec.kind == ListenSpec::Kind::unix_socket) {
    std::filesystem::path parent = std::filesystem::path(spec.path).parent_path();
    if (::mkdir(parent.c_str(), 0750) == 0) {
      created_dir_ = true;
    } else if (errno != EEXIST) {
      fail(spec, "cannot create directory " + parent.string() + ": " + std::strerror(errno));
    }
    clear_stale_socket(spec);
    generic::endpoint ep{asio::local::stream_protocol::endpoint(spec.path)};
    if (acceptor_.open(ep.protocol(), ec)) fail(spec, ec.message());
    if (acceptor_.bind(ep, ec)) fail(spec, ec.message());
    if (::chmod(spec.path.c_str(), options.unix_mode) != 0)
      fail(spec, std::string("chmod: ") + std::strerror(errno));
    struct stat st {};
    if (::lstat(spec.path.c_str(), &st) == 0) {
      dev_ = st.st_dev;
      ino_ = st.st_ino;
    }
  } else {
    generic::endpoint ep = inet_endpoint(io, spec);
    if (acceptor_.open(ep.protocol(), ec)) fail(spec, ec.message());
    acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (acceptor_.bind(ep, ec)) fail(spec, ec.message());
  }
  if (acceptor_.listen(options.backlog, ec)) fail(spec, ec.message());
}

Listener::~Listener() {
  close();
}

void Listener::close() {
  boost::system::error_code ec;
  if (acceptor_.is_open()) acceptor_.close(ec);
  if (spec_.kind == ListenSpec::Kind::unix_socket && ino_ != 0) {
    struct stat st {};
    if (::lstat(spec_.path.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
      ::unlink(spec_.path.c_str());
    ino_ = 0;
  }
}

void Listener::chown_to(uid_t uid, gid_t gid) {
  if (spec_.kind != ListenSpec::Kind::unix_socket) return;
  if (::chown(spec_.path.c_str(), uid, gid) != 0) fail(spec_, std::string("chown: ") + std::strerror(errno));
  if (created_dir_) {
    std::string parent = std::filesystem::path(spec_.path).parent_path().string();
    if (::chown(parent.c_str(), uid, gid) != 0) fail(spec_, "chown " + parent + ": " + std::strerror(errno));
  }
}

std::string Listener::problem() const {
  if (!acceptor_.is_open()) return "closed";
  if (spec_.kind != ListenSpec::Kind::unix_socket) return {};
  struct stat st {};
  if (::lstat(spec_.path.c_str(), &st) != 0) return "socket file " + spec_.path + " is gone";
  if (st.st_dev != dev_ || st.st_ino != ino_) return "socket file " + spec_.path + " was replaced";
  return {};
}

}  // namespace tlsfence
