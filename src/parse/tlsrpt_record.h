#pragma once
// The `_smtp._tls.<domain>` TXT record of RFC 8460 §3:
//   v=TLSRPTv1; rua=mailto:a@example.com,https://r.example/tlsrpt; ext=value
// Pure: bytes in, a record or an error out. Unknown fields are ignored; a URI with a scheme
// other than mailto:/https: is skipped (counted), and a record with no usable URI is an error.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tlsfence::parse {

struct TlsrptRua {
  enum class Scheme { mailto, https };
  Scheme scheme = Scheme::mailto;
  std::string uri;     // as written in the record
  std::string target;  // mailto: the decoded address (no "mailto:", no ?query); https: the URL
                       // with its percent-encoded "," and ";" decoded
};

struct TlsrptRecord {
  std::vector<TlsrptRua> rua;
  std::size_t skipped_uris = 0;  // URIs with an unsupported scheme or bad syntax
};

enum class TlsrptRecordError {
  none,
  too_long,         // longer than limits::tlsrpt_record_max
  not_tlsrpt,       // does not start with "v=TLSRPTv1"
  bad_syntax,       // a field that is not name=value, an empty value, bad delimiter
  no_rua,           // no rua field
  no_usable_rua,    // rua present but no mailto:/https: URI in it
  no_record,        // select_tlsrpt_record: no TXT string starts with v=TLSRPTv1
  several_records,  // select_tlsrpt_record: more than one does (§3: then there is none)
};

std::string_view to_string(TlsrptRecordError e);

struct TlsrptRecordResult {
  std::optional<TlsrptRecord> record;
  TlsrptRecordError error = TlsrptRecordError::none;
};

// One TXT record (its character-strings already concatenated).
TlsrptRecordResult parse_tlsrpt_record(std::string_view txt);

// Every TXT record found at _smtp._tls.<domain>: those that do not begin with "v=TLSRPTv1"
// are discarded (§3); exactly one must remain, and it must parse.
TlsrptRecordResult select_tlsrpt_record(const std::vector<std::string>& txts);

// RFC 3986 percent-decoding; nullopt on a malformed escape. Exposed for tests and the CLI.
std::optional<std::string> percent_decode(std::string_view s);

}  // namespace tlsfence::parse
