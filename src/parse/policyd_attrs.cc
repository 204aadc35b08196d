// Postfix policy delegation attributes: see policyd_attrs.h for what is accepted.
#include "parse/policyd_attrs.h"

#include "tlsfence/limits.h"

namespace tlsfence::parse {

std::string_view to_string(PolicydError e) {
  switch (e) {
    case PolicydError::none: return "none";
    case PolicydError::line_too_long: return "line too long";
    case PolicydError::too_many_attributes: return "too many attributes";
    case PolicydError::binary_data: return "binary data";
    case PolicydError::malformed_line: return "malformed line";
  }
  return "malformed line";
}

const std::string* PolicydRequest::find(std::string_view name) const {
  for (const auto& [n, v] : attributes) {
    if (n == name) return &v;
  }
  return nullptr;
}

std::string_view PolicydRequest::get(std::string_view name) const {
  const std::string* v = find(name);
  return v ? std::string_view(*v) : std::string_view();
}

namespace {

bool is_forbidden_byte(unsigned char c) {
  return (c < 0x20 && c != '\t') || c == 0x7f;
}

}  // namespace

void PolicydParser::feed(std::string_view bytes) {
  if (error_ != PolicydError::none) return;
  // Drop what has been consumed before growing the buffer.
  if (pos_ > 0) {
    buffer_.erase(0, pos_);
    scan_ -= pos_;
    pos_ = 0;
  }
  buffer_.append(bytes);
}

PolicydParser::Result PolicydParser::fail(PolicydError e) {
  error_ = e;
  buffer_.clear();
  pos_ = 0;
  scan_ = 0;
  current_ = {};
  Result r;
  r.status = Status::error;
  r.error = e;
  return r;
}

PolicydParser::Result PolicydParser::next() {
  if (error_ != PolicydError::none) {
    Result r;
    r.status = Status::error;
    r.error = error_;
    return r;
  }
  while (true) {
    // Check the line's bytes in order, so the first offending byte decides the error
    // however the input was split: a control byte → binary_data, a byte past the length
    // limit → line_too_long. A '\r' is allowed only just before the '\n'.
    std::size_t end = std::string::npos;
    for (std::size_t k = scan_; k < buffer_.size(); ++k) {
      const auto c = static_cast<unsigned char>(buffer_[k]);
      if (c == '\n') {
        end = k;
        break;
      }
      if (c == '\r') {
        if (k + 1 == buffer_.size()) break;  // wait for the next byte
        if (buffer_[k + 1] != '\n') return fail(PolicydError::binary_data);
        scan_ = k + 1;
        continue;
      }
      if (is_forbidden_byte(c)) return fail(PolicydError::binary_data);
      if (k - pos_ >= limits_.line_max) return fail(PolicydError::line_too_long);
      scan_ = k + 1;
    }
    if (end == std::string::npos) return {};
    std::string_view line(buffer_.data() + pos_, end - pos_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos_ = end + 1;
    scan_ = pos_;
    if (line.empty()) {
      Result r;
      r.status = Status::request;
      r.request = std::move(current_);
      current_ = {};
      return r;
    }
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) return fail(PolicydError::malformed_line);
    if (current_.attributes.size() >= limits_.attributes_max) {
      return fail(PolicydError::too_many_attributes);
    }
    current_.attributes.emplace_back(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
  }
}

PolicydParser::Result parse_policyd_request(std::string_view bytes) {
  PolicydParser p;
  p.feed(bytes);
  return p.next();
}

std::string encode_policyd_reply(std::string_view action) {
  std::string out;
  out.reserve(action.size() + 9);
  out += "action=";
  out += action;
  for (std::size_t i = 7; i < out.size(); ++i) {
    if (is_forbidden_byte(static_cast<unsigned char>(out[i]))) out[i] = ' ';
  }
  out += "\n\n";
  return out;
}

}  // namespace tlsfence::parse
