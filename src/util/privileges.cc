// Privilege drop (see privileges.h). Order: supplementary groups, gid, uid; then check that
// the real, effective and saved ids all changed and that setuid(0) fails.
#include "util/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace tlsfence {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw PrivilegeError(what);
}

std::string errno_text(int e) {
  return std::strerror(e);
}

}  // namespace

UserIds lookup_user(const std::string& name) {
  long size = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(size > 0 ? static_cast<std::size_t>(size) : 16384);
  passwd pw{};
  passwd* result = nullptr;
  int rc = 0;
  while ((rc = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &result)) == ERANGE &&
         buf.size() < (1u << 20)) {
    buf.resize(buf.size() * 2);
  }
  if (rc != 0) fail("daemon.user: cannot look up user \"" + name + "\": " + errno_text(rc));
  if (result == nullptr) fail("daemon.user: no such user \"" + name + "\"");
  return UserIds{name, pw.pw_uid, pw.pw_gid};
}

DropOutcome drop_privileges(const std::string& user) {
  if (user.empty()) return DropOutcome::kept;
  UserIds ids = lookup_user(user);
  if (ids.uid == 0)
    fail("daemon.user: \"" + user + "\" is root; leave daemon.user empty to keep the current user");
  uid_t ruid, euid, suid;
  getresuid(&ruid, &euid, &suid);
  if (ruid == ids.uid && euid == ids.uid && suid == ids.uid) return DropOutcome::already;
  if (euid != 0) {
    fail("daemon.user: cannot switch to user \"" + user + "\" (uid " + std::to_string(ids.uid) +
         "): running as uid " + std::to_string(euid) + ", not root");
  }
  if (initgroups(ids.name.c_str(), ids.gid) != 0) fail("initgroups(" + user + "): " + errno_text(errno));
  if (setresgid(ids.gid, ids.gid, ids.gid) != 0)
    fail("setgid(" + std::to_string(ids.gid) + "): " + errno_text(errno));
  if (setresuid(ids.uid, ids.uid, ids.uid) != 0)
    fail("setuid(" + std::to_string(ids.uid) + "): " + errno_text(errno));

  gid_t rgid, egid, sgid;
  getresuid(&ruid, &euid, &suid);
  getresgid(&rgid, &egid, &sgid);
  if (ruid != ids.uid || euid != ids.uid || suid != ids.uid || rgid != ids.gid || egid != ids.gid ||
      sgid != ids.gid) {
    fail("privilege drop to \"" + user + "\" did not take effect");
  }
  if (setuid(0) == 0 || seteuid(0) == 0) fail("privilege drop to \"" + user + "\": root could be regained");
  return DropOutcome::dropped;
}

}  // namespace tlsfence
