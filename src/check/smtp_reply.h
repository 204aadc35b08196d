#pragma once
// The client side of the SMTP dialogue `tlsfence check` holds with an MX host (RFC 5321
// §4.2 replies, RFC 3207 STARTTLS): splitting received bytes into replies, and reading the
// EHLO keywords.
//
// Pure: bytes in, a reply or an error out; no logging, no exceptions on bad input. What it
// trusts: nothing — the peer may be hostile. A line longer than smtp_line_max, a reply of
// more than smtp_reply_lines_max lines, a line that does not start with a 3-digit code in
// 200..599, or a continuation line with another code is an error (the probe then gives up
// on that host). Lines end in CRLF; a bare LF is accepted (the CR is optional on input).
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tlsfence::check {

// RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; real servers stay far below. We
// accept some slack before calling a line hostile.
inline constexpr std::size_t smtp_line_max = 2'048;       // bytes of one reply line, CRLF included
inline constexpr std::size_t smtp_reply_lines_max = 200;  // lines of one (multi-line) reply

struct SmtpReply {
  int code = 0;                    // 200..599
  std::vector<std::string> lines;  // the text of each line after "NNN-" / "NNN " (may be empty)
};

enum class ReplyStatus {
  incomplete,  // need more bytes
  complete,    // `reply` holds one reply; `consumed` bytes of the buffer belong to it
  error,       // malformed or over a limit; `error` says why
};

struct ReplyParse {
  ReplyStatus status = ReplyStatus::incomplete;
  SmtpReply reply;
  std::size_t consumed = 0;
  std::string error;
};

// Reads the first reply at the start of `buffer` (bytes received and not yet consumed).
ReplyParse parse_reply(std::string_view buffer);

// The EHLO keywords (RFC 5321 §4.1.1.1: every line after the first, its first word),
// upper-cased. Empty when the reply is not a 250.
std::vector<std::string> ehlo_keywords(const SmtpReply& ehlo);

// True when the 250 EHLO reply lists `keyword` (ASCII case-insensitive, whole word).
bool ehlo_offers(const SmtpReply& ehlo, std::string_view keyword);

// `s` cut to `max` bytes with every byte outside printable ASCII shown as '?', for showing
// what a peer sent without letting it write control characters to a terminal.
std::string printable(std::string_view s, std::size_t max = 200);

}  // namespace tlsfence::check
