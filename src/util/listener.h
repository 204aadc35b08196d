#pragma once
// Listening sockets for the front doors: one Asio generic stream acceptor per listen spec,
// so unix and inet listeners share one code path (the handler gets a
// asio::generic::stream_protocol::socket either way).
//
// A unix socket's stale file is replaced only if it is a socket nobody answers on; anything
// else at that path is an error. The socket file gets `unix_mode` (default 0660) and, when the
// daemon drops privileges, the daemon user's uid and gid (see chown_to), so the MTA reaches
// it through that group (add postfix to group tlsfence). A missing parent directory is
// created (mode 0750). Start-up only: failures throw ListenError.
#include <sys/socket.h>
#include <sys/types.h>

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <stdexcept>
#include <string>

#include "async/asio.h"
#include "util/listen_spec.h"

namespace tlsfence {

struct ListenError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ListenOptions {
  mode_t unix_mode = 0660;
  // Connections the kernel queues before accept(): SOMAXCONN (4096), clamped by the kernel to
  // net.core.somaxconn. A burst of an MTA's delivery agents (hundreds of smtp(8) processes
  // connecting at once) must wait in the queue, not get EAGAIN: a refused socketmap connect is a
  // failed lookup, and the mail is deferred.
  int backlog = SOMAXCONN;
};

class Listener {
 public:
  using Acceptor = asio::basic_socket_acceptor<asio::generic::stream_protocol>;

  // Binds and listens. Throws ListenError naming the spec.
  Listener(asio::io_context& io, const ListenSpec& spec, const ListenOptions& options = {});
  ~Listener();  // closes; removes the unix socket file it created
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  Acceptor& acceptor() { return acceptor_; }
  const ListenSpec& spec() const { return spec_; }
  // Gives the unix socket file (and a parent directory this listener created) to uid:gid.
  // No-op for inet listeners. Throws ListenError.
  void chown_to(uid_t uid, gid_t gid);
  void close();
  // Why this listener no longer takes connections ("" while it does): closed, or its unix
  // socket file removed or replaced by another file (clients can no longer reach it).
  std::string problem() const;

 private:
  ListenSpec spec_;
  Acceptor acceptor_;
  bool created_dir_ = false;
  dev_t dev_ = 0;  // identity of the socket file we created (to remove only ours)
  ino_t ino_ = 0;
};

}  // namespace tlsfence
