#pragma once
// Dropping root after the privileged resources are open (the Postfix way: every failure is
// fatal, and the drop is verified by trying to get root back).
#include <sys/types.h>

#include <stdexcept>
#include <string>

namespace tlsfence {

// A privilege or user problem at start-up; the program logs it and exits.
struct PrivilegeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct UserIds {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Looks `name` up in the user database. Throws PrivilegeError when there is no such user.
UserIds lookup_user(const std::string& name);

enum class DropOutcome {
  kept,     // user empty: stay as we are
  already,  // already running as that user (e.g. systemd's User=): nothing to do
  dropped,  // was root, now that user; getting root back verified to fail
};

// Becomes `user` (initgroups, setgid, setuid), verified. Empty user: nothing. Throws
// PrivilegeError when the user does not exist, is root, we are neither root nor that user,
// or any step fails. Call it before any thread is started.
DropOutcome drop_privileges(const std::string& user);

}  // namespace tlsfence
