// Netstring codec: see netstring.h for what is accepted and why.
#include "parse/netstring.h"

#include <charconv>
#include <cstring>

namespace tlsfence::parse {

std::string_view to_string(NetstringError e) {
  switch (e) {
    case NetstringError::none: return "no error";
    case NetstringError::empty_length: return "empty netstring length";
    case NetstringError::non_digit_length: return "non-digit in netstring length";
    case NetstringError::length_overflow: return "netstring length has too many digits";
    case NetstringError::too_long: return "netstring too long";
    case NetstringError::missing_comma: return "netstring not terminated by ','";
  }
  return "netstring error";
}

namespace {
NetstringResult fail(NetstringError e) {
  NetstringResult r;
  r.status = NetstringStatus::error;
  r.error = e;
  return r;
}
}  // namespace

NetstringResult decode_netstring(std::string_view input, std::size_t max_length) {
  std::size_t len = 0;
  std::size_t i = 0;
  for (;; ++i) {
    if (i == input.size()) return {};  // incomplete length
    const char c = input[i];
    if (c == ':') break;
    if (c < '0' || c > '9') return fail(NetstringError::non_digit_length);
    if (i >= netstring_length_digits_max) return fail(NetstringError::length_overflow);
    len = len * 10 + static_cast<std::size_t>(c - '0');           // ≤ 20 digits of which the value is
    if (len > max_length) return fail(NetstringError::too_long);  // capped here: no overflow
  }
  if (i == 0) return fail(NetstringError::empty_length);
  const std::size_t data_at = i + 1;
  if (input.size() - data_at < len + 1) return {};  // data or comma still missing
  if (input[data_at + len] != ',') return fail(NetstringError::missing_comma);
  NetstringResult r;
  r.status = NetstringStatus::complete;
  r.data = input.substr(data_at, len);
  r.consumed = data_at + len + 1;
  return r;
}

void NetstringDecoder::feed(std::string_view chunk) {
  if (chunk.empty()) return;
  auto area = prepare(chunk.size());
  std::memcpy(area.data(), chunk.data(), chunk.size());
  commit(chunk.size());
}

std::span<char> NetstringDecoder::prepare(std::size_t n) {
  if (start_ == end_) {
    start_ = end_ = 0;
  } else if (start_ > 0 && buf_.size() - end_ < n) {
    std::memmove(buf_.data(), buf_.data() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
  }
  if (buf_.size() - end_ < n) buf_.resize(end_ + n);
  return {buf_.data() + end_, n};
}

void NetstringDecoder::commit(std::size_t n) {
  end_ += n;
}

NetstringResult NetstringDecoder::next() {
  if (error_ != NetstringError::none) return fail(error_);
  NetstringResult r = decode_netstring(std::string_view(buf_.data() + start_, end_ - start_), max_length_);
  if (r.status == NetstringStatus::complete) {
    start_ += r.consumed;
  } else if (r.status == NetstringStatus::error) {
    error_ = r.error;
  }
  return r;
}

void append_netstring(std::string& out, std::string_view data) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, data.size());
  (void)ec;  // 24 digits always hold a size_t
  out.append(digits, end);
  out.push_back(':');
  out.append(data);
  out.push_back(',');
}

std::string encode_netstring(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 24);
  append_netstring(out, data);
  return out;
}

}  // namespace tlsfence::parse
