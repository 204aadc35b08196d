#pragma once
// LogFollower: reads new lines of a Postfix or Sendmail log, turns them into attributed
// TLS-RPT outcomes and commits them to the Store together with the file position, in one
// transaction (a restart resumes exactly after the last committed line: nothing lost,
// nothing doubled).
//
// Position: inode + offset + head (a fingerprint of the first bytes: "N:HASH" over the first N
// ≤ 256 bytes). At start the stored position is used when the inode and head match and the
// offset is within the file; otherwise (another file, truncated, replaced) reading starts at 0.
// On resume, up to `replay_window` bytes before the offset are fed to the correlator with their
// outcomes discarded, so sessions whose TLS line came before the committed offset and whose
// delivery line comes after it are still counted (and nothing already counted is counted again).
//
// While running: rotation by rename (the path now names another inode) → the old file is read to
// its end (a final line without newline included), then the new one from 0 — also across a
// restart, when the stored position names "PATH.1" (the usual rotated name); truncation (size
// below the offset) → restart at 0. A partial last line waits for its newline.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>

#include "rptd/attribution.h"
#include "tlsrpt/correlator.h"
#include "tlsrpt/store.h"

namespace tlsfence::rptd {

enum class LogKind { postfix, sendmail };

struct FollowerOptions {
  std::size_t chunk = 256 * 1024;            // bytes read (and committed) per transaction at most
  std::uint64_t replay_window = 256 * 1024;  // see above
  tlsrpt::CorrelatorOptions correlator;
};

struct PollResult {
  std::uint64_t lines = 0;
  std::uint64_t outcomes = 0;
  std::uint64_t bytes = 0;
  bool rotated = false;
  bool truncated = false;
};

class LogFollower {
 public:
  LogFollower(std::string path, LogKind kind, tlsrpt::Store& store, Attributor& attributor,
              FollowerOptions options = {});
  ~LogFollower();
  LogFollower(const LogFollower&) = delete;
  LogFollower& operator=(const LogFollower&) = delete;

  // Reads everything available now (to EOF), committing as it goes. A missing file is not an
  // error (nothing to read yet). Throws tlsrpt::StoreError on store failures.
  PollResult poll();

  std::string source() const;  // "postfix-log:PATH" / "sendmail-log:PATH"
  const tlsrpt::CorrelatorStats& stats() const;

 private:
  bool open_current(bool use_stored);
  bool open_file(const std::string& file, bool use_stored);
  void read_to_eof(PollResult& r, bool final_file);
  void feed(std::string_view line, std::vector<tlsrpt::Outcome>* out);
  std::string head_of(int fd) const;

  std::string path_;
  LogKind kind_;
  tlsrpt::Store& store_;
  Attributor& attributor_;
  FollowerOptions options_;
  std::variant<tlsrpt::PostfixCorrelator, tlsrpt::SendmailCorrelator> correlator_;
  int fd_ = -1;
  std::uint64_t inode_ = 0;
  std::uint64_t offset_ = 0;  // of the first byte not yet consumed as a complete line
  std::string head_;
  std::string pending_;  // bytes after offset_ already read (a partial line)
  bool started_ = false;
};

// Head fingerprint of a file's first bytes ("N:HASH", N ≤ 256); "" for an empty file.
std::string head_fingerprint(std::string_view first_bytes);

}  // namespace tlsfence::rptd
