// The milter wire protocol: see milter_wire.h.
#include "parse/milter_wire.h"

#include <libmilter/mfdef.h>

#include "tlsfence/limits.h"

namespace tlsfence::parse::milter {

namespace {

std::uint32_t get32(std::string_view s, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 3]));
}

void put32(std::string& out, std::uint32_t v) {
  out.push_back(static_cast<char>((v >> 24) & 0xff));
  out.push_back(static_cast<char>((v >> 16) & 0xff));
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}

// The NUL-terminated string at `pos`, advancing pos past its NUL; nullopt without a NUL.
std::optional<std::string_view> take_string(std::string_view data, std::size_t& pos) {
  const std::size_t nul = data.find('\0', pos);
  if (nul == std::string_view::npos) return std::nullopt;
  const std::string_view s = data.substr(pos, nul - pos);
  pos = nul + 1;
  return s;
}

std::string_view until_nul(std::string_view s) {
  return s.substr(0, s.find('\0'));
}

}  // namespace

std::string_view to_string(WireError e) {
  switch (e) {
    case WireError::none: return "no error";
    case WireError::empty_packet: return "packet of length 0 (no command byte)";
    case WireError::packet_too_large: return "packet larger than the limit";
  }
  return "unknown error";
}

void PacketReader::feed(std::string_view bytes) {
  if (error_ != WireError::none) return;
  if (pos_ > 0) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  buffer_.append(bytes);
}

PacketReader::Result PacketReader::next() {
  Result r;
  if (error_ != WireError::none) {
    r.status = Status::error;
    r.error = error_;
    return r;
  }
  const std::size_t available = buffer_.size() - pos_;
  if (available < MILTER_LEN_BYTES) return r;
  const std::uint32_t length = get32(buffer_, pos_);
  if (length == 0 || length > limits::milter_packet_max) {
    error_ = length == 0 ? WireError::empty_packet : WireError::packet_too_large;
    buffer_.clear();
    pos_ = 0;
    r.status = Status::error;
    r.error = error_;
    return r;
  }
  if (available - MILTER_LEN_BYTES < length) return r;
  r.status = Status::packet;
  r.packet.command = buffer_[pos_ + MILTER_LEN_BYTES];
  r.packet.data = std::string_view(buffer_).substr(pos_ + MILTER_LEN_BYTES + 1, length - 1);
  pos_ += MILTER_LEN_BYTES + length;
  return r;
}

std::optional<Negotiation> decode_negotiation(std::string_view data) {
  if (data.size() < 3 * MILTER_LEN_BYTES) return std::nullopt;
  return Negotiation{get32(data, 0), get32(data, 4), get32(data, 8)};
}

std::optional<std::vector<std::string_view>> decode_strings(std::string_view data) {
  if (data.empty() || data.back() != '\0') return std::nullopt;
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < data.size()) out.push_back(*take_string(data, pos));
  return out;
}

std::optional<Macros> decode_macros(std::string_view data) {
  if (data.empty()) return std::nullopt;
  Macros m;
  m.stage = data[0];
  if (data.size() == 1) return m;
  auto strings = decode_strings(data.substr(1));
  if (!strings || strings->size() % 2 != 0) return std::nullopt;
  m.values.reserve(strings->size() / 2);
  for (std::size_t i = 0; i < strings->size(); i += 2)
    m.values.emplace_back((*strings)[i], (*strings)[i + 1]);
  return m;
}

std::optional<Connect> decode_connect(std::string_view data) {
  Connect c;
  std::size_t pos = 0;
  auto host = take_string(data, pos);
  if (!host || pos >= data.size()) return std::nullopt;
  c.hostname = *host;
  c.family = data[pos++];
  if (c.family == SMFIA_UNKNOWN) return pos == data.size() ? std::optional<Connect>(c) : std::nullopt;
  if (c.family != SMFIA_INET && c.family != SMFIA_INET6 && c.family != SMFIA_UNIX) return std::nullopt;
  if (data.size() - pos < 2) return std::nullopt;
  c.port = static_cast<std::uint16_t>((static_cast<unsigned char>(data[pos]) << 8) |
                                      static_cast<unsigned char>(data[pos + 1]));
  pos += 2;
  auto address = take_string(data, pos);
  if (!address || pos != data.size()) return std::nullopt;
  c.address = *address;
  return c;
}

std::optional<Header> decode_header(std::string_view data) {
  auto strings = decode_strings(data);
  if (!strings || strings->size() != 2) return std::nullopt;
  return Header{(*strings)[0], (*strings)[1]};
}

std::string encode_packet(char command, std::string_view data) {
  std::string out;
  out.reserve(MILTER_LEN_BYTES + 1 + data.size());
  put32(out, static_cast<std::uint32_t>(data.size() + 1));
  out.push_back(command);
  out.append(data);
  return out;
}

std::string encode_negotiation(const Negotiation& n) {
  std::string data;
  put32(data, n.version);
  put32(data, n.actions);
  put32(data, n.protocol);
  return encode_packet(SMFIC_OPTNEG, data);
}

std::string encode_reply_code(std::string_view code, std::string_view dsn, std::string_view text) {
  std::string data;
  data.reserve(code.size() + dsn.size() + text.size() + 4);
  auto add = [&data](std::string_view s) {
    for (char ch : s) {
      const auto u = static_cast<unsigned char>(ch);
      if (u < 0x20 || u == 0x7f) {
        data.push_back(' ');
      } else {
        data.push_back(ch);
        if (ch == '%') data.push_back('%');
      }
    }
  };
  add(code);
  data.push_back(' ');
  add(dsn);
  data.push_back(' ');
  add(text);
  data.push_back('\0');
  return encode_packet(SMFIR_REPLYCODE, data);
}

std::string encode_add_header(std::string_view name, std::string_view value) {
  std::string data(until_nul(name));
  data.push_back('\0');
  data.append(until_nul(value));
  data.push_back('\0');
  return encode_packet(SMFIR_ADDHEADER, data);
}

}  // namespace tlsfence::parse::milter
