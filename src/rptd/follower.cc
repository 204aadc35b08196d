#include "rptd/follower.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <system_error>

#include "util/log.h"

namespace tlsfence::rptd {
namespace {

constexpr std::size_t kHeadBytes = 256;

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string read_at(int fd, std::uint64_t offset, std::size_t n) {
  std::string buf(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, buf.data() + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "read");
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  buf.resize(got);
  return buf;
}

// Does the file's beginning match a stored "N:HASH" head?
bool head_matches(int fd, const std::string& stored) {
  if (stored.empty()) return true;  // the file was empty when stored
  auto colon = stored.find(':');
  if (colon == std::string::npos) return false;
  std::size_t n = 0;
  try {
    n = std::stoul(stored.substr(0, colon));
  } catch (...) {
    return false;
  }
  if (n == 0 || n > kHeadBytes) return false;
  const std::string first = read_at(fd, 0, n);
  return first.size() == n && head_fingerprint(first) == stored;
}

}  // namespace

std::string head_fingerprint(std::string_view first_bytes) {
  if (first_bytes.empty()) return {};
  first_bytes = first_bytes.substr(0, kHeadBytes);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%zu:%016llx", first_bytes.size(),
                static_cast<unsigned long long>(fnv1a(first_bytes)));
  return buf;
}

LogFollower::LogFollower(std::string path, LogKind kind, tlsrpt::Store& store, Attributor& attributor,
                         FollowerOptions options)
    : path_(std::move(path)),
      kind_(kind),
      store_(store),
      attributor_(attributor),
      options_(options),
      correlator_(kind == LogKind::postfix
                      ? decltype(correlator_)(tlsrpt::PostfixCorrelator(options.correlator))
                      : decltype(correlator_)(tlsrpt::SendmailCorrelator(options.correlator))) {}

LogFollower::~LogFollower() {
  if (fd_ >= 0) ::close(fd_);
}

std::string LogFollower::source() const {
  return (kind_ == LogKind::postfix ? "postfix-log:" : "sendmail-log:") + path_;
}

const tlsrpt::CorrelatorStats& LogFollower::stats() const {
  return std::visit([](auto& c) -> const tlsrpt::CorrelatorStats& { return c.stats(); }, correlator_);
}

std::string LogFollower::head_of(int fd) const {
  return head_fingerprint(read_at(fd, 0, kHeadBytes));
}

void LogFollower::feed(std::string_view line, std::vector<tlsrpt::Outcome>* out) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  std::vector<tlsrpt::Outcome> discard;
  std::visit([&](auto& c) { c.feed(line, now, out ? *out : discard); }, correlator_);
}

// Opens path_. With use_stored, resumes from the stored position when it still names this file.
bool LogFollower::open_current(bool use_stored) {
  return open_file(path_, use_stored);
}

bool LogFollower::open_file(const std::string& file, bool use_stored) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return false;
  }
  fd_ = fd;
  inode_ = st.st_ino;
  offset_ = 0;
  pending_.clear();
  if (use_stored) {
    if (auto pos = store_.position(source())) {
      const auto size = static_cast<std::uint64_t>(st.st_size);
      if (pos->inode == inode_ && pos->offset <= size && head_matches(fd, pos->head)) {
        offset_ = pos->offset;
        // Rebuild the correlator's sessions from the lines just before the offset.
        std::uint64_t from = offset_ > options_.replay_window ? offset_ - options_.replay_window : 0;
        std::string window = read_at(fd, from, static_cast<std::size_t>(offset_ - from));
        std::size_t start = 0;
        if (from > 0) {
          auto nl = window.find('\n');
          start = nl == std::string::npos ? window.size() : nl + 1;
        }
        while (start < window.size()) {
          auto nl = window.find('\n', start);
          if (nl == std::string::npos) break;
          feed(std::string_view(window).substr(start, nl - start), nullptr);
          start = nl + 1;
        }
        log::info("log follower resumes", {{"source", source()}, {"offset", std::to_string(offset_)}});
      } else {
        log::info("log follower: stored position names another file, reading from the start",
                  {{"source", source()}});
      }
    }
  }
  head_ = head_of(fd);
  return true;
}

// Reads from offset_ to the current end of fd_, committing each chunk's outcomes with the position
// after its last complete line. `final_file`: the file was rotated away, so a last line without
// newline is complete.
void LogFollower::read_to_eof(PollResult& r, bool final_file) {
  for (;;) {
    std::string chunk = read_at(fd_, offset_ + pending_.size(), options_.chunk);
    const bool eof = chunk.size() < options_.chunk;
    r.bytes += chunk.size();
    pending_ += chunk;
    std::vector<tlsrpt::Outcome> outcomes;
    std::size_t start = 0;
    for (;;) {
      auto nl = pending_.find('\n', start);
      if (nl == std::string::npos) break;
      feed(std::string_view(pending_).substr(start, nl - start), &outcomes);
      ++r.lines;
      start = nl + 1;
    }
    if (eof && final_file && start < pending_.size()) {
      feed(std::string_view(pending_).substr(start), &outcomes);
      ++r.lines;
      start = pending_.size();
    }
    if (start > 0 || !outcomes.empty()) {
      if (head_.size() == 0 || head_.substr(0, head_.find(':')) != std::to_string(kHeadBytes)) {
        head_ = head_of(fd_);  // the file was shorter than the head when last looked at
      }
      attributor_.clear();
      for (auto& o : outcomes) attributor_.attribute(o);
      tlsrpt::LogPosition pos{source(), inode_, offset_ + start, head_};
      store_.add(outcomes, std::span<const tlsrpt::LogPosition>(&pos, 1));
      r.outcomes += outcomes.size();
      offset_ += start;
      pending_.erase(0, start);
    }
    if (eof) return;
  }
}

PollResult LogFollower::poll() {
  PollResult r;
  if (fd_ < 0 && !started_) {
    // Rotated while we were stopped: finish the rotated file ("PATH.1") first when it is the
    // file of the stored position.
    if (auto pos = store_.position(source())) {
      struct stat cur {};
      struct stat old {};
      const std::string rotated = path_ + ".1";
      if ((::stat(path_.c_str(), &cur) != 0 || static_cast<std::uint64_t>(cur.st_ino) != pos->inode) &&
          ::stat(rotated.c_str(), &old) == 0 && static_cast<std::uint64_t>(old.st_ino) == pos->inode &&
          open_file(rotated, true) && inode_ == pos->inode && offset_ == pos->offset) {
        log::info("finishing the rotated log file", {{"source", source()}, {"file", rotated}});
        read_to_eof(r, true);
        r.rotated = true;
      }
      if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
      }
      if (r.rotated) {
        started_ = true;
        if (open_current(false)) read_to_eof(r, false);
        return r;
      }
    }
  }
  if (fd_ < 0) {
    if (!open_current(!started_)) return r;
    started_ = true;
  }
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && static_cast<std::uint64_t>(st.st_size) < offset_ + pending_.size()) {
    log::info("log file truncated, reading from the start", {{"source", source()}});
    r.truncated = true;
    offset_ = 0;
    pending_.clear();
    head_ = head_of(fd_);
  }
  read_to_eof(r, false);
  struct stat now {};
  if (::stat(path_.c_str(), &now) == 0 && static_cast<std::uint64_t>(now.st_ino) != inode_) {
    // Rotated by rename: finish the old file, then the new one from its start.
    read_to_eof(r, true);
    log::info("log file rotated", {{"source", source()}});
    ::close(fd_);
    fd_ = -1;
    r.rotated = true;
    if (open_current(false)) read_to_eof(r, false);
  }
  return r;
}

}  // namespace tlsfence::rptd
