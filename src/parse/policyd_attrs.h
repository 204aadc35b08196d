#pragma once
// Postfix policy delegation protocol (SMTPD_POLICY_README): a request is a block of
// `name=value` lines ended by an empty line; the reply is `action=…` and an empty line.
//
// Pure and incremental: feed() the bytes as they arrive, then call next() until it says
// need_more. No logging, no exceptions on bad input, no I/O.
//
// What it trusts: nothing. What it accepts:
//  - a line is at most limits::policy_line_max bytes (Limits::line_max) (without the "\n"; a "\r" just before
//    the "\n" is dropped, so a telnet session works); longer → line_too_long, as soon as
//    the limit is passed (the parser never buffers more than one line beyond the limit);
//  - at most limits::policy_attributes_max (Limits::attributes_max) attributes per request →
//  too_many_attributes;
//  - the name is what precedes the first '='; the value may itself contain '=';
//    a line without '=' or with an empty name → malformed_line;
//  - NUL and C0 control bytes other than TAB, and DEL, anywhere → binary_data. Bytes
//    >= 0x80 are accepted (SMTPUTF8 addresses are UTF-8);
//  - unknown attribute names are kept (the door ignores them); a repeated name is kept
//    twice and find() returns the first.
// Bytes are checked in order, so the first offending byte decides the error whatever the
// chunking. An error is final: the parser stays in the error state (the door answers and
// closes).
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tlsfence/limits.h"

namespace tlsfence::parse {

enum class PolicydError {
  none,
  line_too_long,
  too_many_attributes,
  binary_data,
  malformed_line,
};
std::string_view to_string(PolicydError e);

struct PolicydRequest {
  std::vector<std::pair<std::string, std::string>> attributes;  // in arrival order

  // The value of the first attribute called `name`, or nullptr.
  const std::string* find(std::string_view name) const;
  // The value, or "" when absent.
  std::string_view get(std::string_view name) const;
};

class PolicydParser {
 public:
  enum class Status { need_more, request, error };
  struct Result {
    Status status = Status::need_more;
    PolicydRequest request;                   // set when status == request
    PolicydError error = PolicydError::none;  // set when status == error
  };

  // The limits a connection is held to (the door uses the defaults; the fuzz target uses
  // small ones, so that short inputs reach them).
  struct Limits {
    std::size_t line_max = limits::policy_line_max;
    std::size_t attributes_max = limits::policy_attributes_max;
  };
  PolicydParser() = default;
  explicit PolicydParser(Limits l) : limits_(l) {}

  // Appends bytes to the input. Cheap: bytes are only copied, parsing happens in next().
  void feed(std::string_view bytes);
  // The next complete request, or need_more, or the (sticky) error.
  Result next();
  // True when a request has started (some bytes or lines received) but not ended: a close
  // at this point is a truncated request.
  bool in_request() const { return !current_.attributes.empty() || pos_ < buffer_.size(); }
  PolicydError error() const { return error_; }

 private:
  Result fail(PolicydError e);

  Limits limits_;
  std::string buffer_;
  std::size_t pos_ = 0;   // first unparsed byte of buffer_ (start of the current line)
  std::size_t scan_ = 0;  // bytes of the current line before this one are already checked
  PolicydRequest current_;
  PolicydError error_ = PolicydError::none;
};

// Parses the first request of `bytes` (up to and including its empty line); need_more if
// the block is not complete. For tests and the fuzz target.
PolicydParser::Result parse_policyd_request(std::string_view bytes);

// `action=<action>\n\n`. CR, LF and other control bytes in `action` become spaces, so a
// reply can never end early or smuggle a second attribute.
std::string encode_policyd_reply(std::string_view action);

}  // namespace tlsfence::parse
