#pragma once
// The milter wire protocol as libmilter defines it (protocol version 6; the command, reply,
// flag and address-family constants are libmilter's own, from <libmilter/mfdef.h>).
//
// A packet is a 4-byte big-endian length, then that many bytes: one command (or reply) byte
// and its data. Data layouts read here:
//   O  option negotiation   version, actions, protocol (3 × uint32 BE); anything after them
//                           (an MTA's own extensions) is ignored
//   D  macros               the stage (one command byte), then name\0value\0 pairs
//   C  connect              hostname\0, family ('4', '6', 'L', 'U'), then for every family
//                           but 'U': port (uint16 BE) and address\0
//   M, R  MAIL / RCPT       arg\0 arg\0 … (the address first, then ESMTP parameters)
//   L  header               name\0value\0
//   H  HELO                 name\0
// Commands without data (T, N, E, A, Q, K, …) are passed through with whatever data came.
//
// Pure and incremental like the other parsers: feed() the bytes as they arrive, then next()
// until need_more. No logging, no exceptions on bad input, no I/O. Errors are final.
//
// What it trusts: nothing. A length of 0 (no command byte) is `empty_packet`; a length above
// limits::milter_packet_max is `packet_too_large`, known as soon as the 4 length bytes are
// in (the reader never buffers a packet it will refuse). The decoders return nullopt for
// data that does not have their layout (missing NUL terminator, odd macro list, short
// negotiation, unknown address family, …).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tlsfence::parse::milter {

enum class WireError { none, empty_packet, packet_too_large };
std::string_view to_string(WireError e);

struct Packet {
  char command = 0;
  std::string_view data;  // valid until the next feed()
};

class PacketReader {
 public:
  enum class Status { need_more, packet, error };
  struct Result {
    Status status = Status::need_more;
    Packet packet;                      // set when status == packet
    WireError error = WireError::none;  // set when status == error
  };

  // Appends bytes (drops the bytes of packets already returned first: earlier packets'
  // data views become invalid).
  void feed(std::string_view bytes);
  // The next complete packet, need_more, or the (sticky) error.
  Result next();
  // True when part of a packet has arrived: a close now cuts a packet in two.
  bool mid_packet() const { return pos_ < buffer_.size(); }

 private:
  std::string buffer_;
  std::size_t pos_ = 0;  // first byte of buffer_ not yet returned
  WireError error_ = WireError::none;
};

struct Negotiation {
  std::uint32_t version = 0;
  std::uint32_t actions = 0;   // SMFIF_* the MTA allows (request) / the filter uses (reply)
  std::uint32_t protocol = 0;  // SMFIP_* steps the MTA can leave out (request) / wants left out
};
std::optional<Negotiation> decode_negotiation(std::string_view data);

// NUL-terminated strings: "a\0b\0" → {a, b}. nullopt when the data is empty or its last byte
// is not NUL.
std::optional<std::vector<std::string_view>> decode_strings(std::string_view data);

struct Macros {
  char stage = 0;  // the command these macros come with (SMFIC_MAIL, …)
  std::vector<std::pair<std::string_view, std::string_view>> values;
};
// A stage byte alone (no macros) is valid.
std::optional<Macros> decode_macros(std::string_view data);

struct Connect {
  std::string_view hostname;
  char family = 0;  // SMFIA_INET, SMFIA_INET6, SMFIA_UNIX, SMFIA_UNKNOWN
  std::uint16_t port = 0;
  std::string_view address;  // IPv4/IPv6 text, a socket path, or "" (unknown)
};
std::optional<Connect> decode_connect(std::string_view data);

struct Header {
  std::string_view name;
  std::string_view value;
};
std::optional<Header> decode_header(std::string_view data);

// One packet: the length, the command byte, the data.
std::string encode_packet(char command, std::string_view data = {});
// The negotiation packet (SMFIC_OPTNEG).
std::string encode_negotiation(const Negotiation& n);
// SMFIR_REPLYCODE: "CODE DSN TEXT\0". Control bytes (CR and LF included) in `text` become
// spaces and each '%' is doubled (the MTA reads the text as a format, like libmilter's
// smfi_setreply), so the reply cannot be cut short or split.
std::string encode_reply_code(std::string_view code, std::string_view dsn, std::string_view text);
// SMFIR_ADDHEADER: "name\0value\0" (a NUL inside either is cut there).
std::string encode_add_header(std::string_view name, std::string_view value);

}  // namespace tlsfence::parse::milter
