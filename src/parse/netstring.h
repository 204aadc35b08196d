#pragma once
// Netstrings (D. J. Bernstein): `LEN:DATA,` — the framing of the Postfix and Sendmail socketmap
// protocols. A pure, incremental codec: no I/O, no logging, no exceptions on bad input.
//
// What is accepted (checked against Postfix's netstring.c, the socketmap client/server we talk to):
//   - LEN is one or more ASCII digits; leading zeros are accepted, as Postfix and Sendmail do
//     (at most netstring_length_digits_max digits, so "000…" cannot stall the decoder);
//   - an empty LEN (":" first) is an error (Postfix would read it as 0; no MTA sends it);
//   - LEN above the decoder's limit is an error as soon as the digits show it, before any of
//     the data is buffered;
//   - DATA is any bytes (NUL included); the byte after DATA must be ','.
// An error is final: the stream cannot be resynchronised, the caller closes the connection.
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace tlsfence::parse {

inline constexpr std::size_t netstring_length_digits_max = 20;

enum class NetstringError {
  none,
  empty_length,      // ':' where the first length digit belongs
  non_digit_length,  // a byte other than a digit or ':' in the length
  length_overflow,   // more than netstring_length_digits_max digits
  too_long,          // LEN above the limit
  missing_comma,     // the byte after DATA is not ','
};
std::string_view to_string(NetstringError e);

enum class NetstringStatus { complete, incomplete, error };

struct NetstringResult {
  NetstringStatus status = NetstringStatus::incomplete;
  std::string_view data;     // complete: the payload (a view into the input)
  std::size_t consumed = 0;  // complete: bytes of input the netstring used (LEN:DATA,)
  NetstringError error = NetstringError::none;
};

// Decodes the netstring at the start of `input`. `incomplete` means "feed more bytes"; it is never
// returned when the bytes so far already prove an error (oversized LEN, bad digit…).
NetstringResult decode_netstring(std::string_view input, std::size_t max_length);

// Incremental decoder for a byte stream cut into arbitrary chunks. Owns its buffer; the caller
// either feed()s chunks or reads straight into prepare()/commit() (no copy).
class NetstringDecoder {
 public:
  explicit NetstringDecoder(std::size_t max_length) : max_length_(max_length) {}

  void feed(std::string_view chunk);
  // A writable area of at least `n` bytes at the end of the buffered data; commit() what was
  // written. Compacts consumed bytes first, so the buffer never grows beyond
  // one partial netstring + n.
  std::span<char> prepare(std::size_t n);
  void commit(std::size_t n);

  // The next complete netstring (data valid until the next feed/prepare/next call), `incomplete`
  // when more bytes are needed, or the error (sticky: every later call returns it again).
  NetstringResult next();

  bool failed() const { return error_ != NetstringError::none; }
  // Bytes received but not yet returned as netstrings (a partial netstring at end of stream).
  std::size_t pending() const { return end_ - start_; }
  std::size_t max_length() const { return max_length_; }

 private:
  std::size_t max_length_;
  std::string buf_;
  std::size_t start_ = 0;  // first byte not yet consumed
  std::size_t end_ = 0;    // end of valid data in buf_ (buf_.size() is capacity in use)
  NetstringError error_ = NetstringError::none;
};

// Appends `LEN:DATA,` to out.
void append_netstring(std::string& out, std::string_view data);
std::string encode_netstring(std::string_view data);

}  // namespace tlsfence::parse
