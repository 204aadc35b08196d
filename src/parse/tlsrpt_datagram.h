#pragma once
// libtlsrpt datagrams (sys4 libtlsrpt, as sent by Postfix >= 3.10 to smtp_tlsrpt_socket_name):
// one JSON object per datagram, one delivery request:
//   {"dpv":"1"?, "d":"example.com", "pr":"…"?, "policies":[{"policy-type":2,
//    "policy-domain":"example.com", "policy-string":["version: STSv1", …], "mx-host":["*.example.com"],
//    "failure-details":[{"c":202,"s":"192.0.2.9","n":"mx.example.com","h":"…","r":"192.0.2.1",
//    "a":"…","f":"…"}], "t":1, "f":1}]}
// "f" of a policy: 0 success, 1 failure; "t": number of failure details. Pure: never throws.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tlsfence/tlsrpt_result.h"

namespace tlsfence::parse {

struct DatagramFailure {
  TlsrptResult result = TlsrptResult::validation_failure;  // "c"
  std::string sending_mta_ip;                              // "s"
  std::string receiving_mx_hostname;                       // "n"
  std::string receiving_mx_helo;                           // "h"
  std::string receiving_ip;                                // "r"
  std::string additional_information;                      // "a"
  std::string failure_reason_code;                         // "f"
};

struct DatagramPolicy {
  TlsrptPolicyType type = TlsrptPolicyType::no_policy_found;  // "policy-type" 1, 2, 9
  std::string domain;                                         // "policy-domain" ("" if absent)
  std::vector<std::string> strings;                           // "policy-string"
  std::vector<std::string> mx_hosts;                          // "mx-host"
  std::vector<DatagramFailure> failures;                      // "failure-details"
  bool failed = false;                                        // "f" == 1
};

struct Datagram {
  std::string version;        // "dpv" as text ("" when absent: libtlsrpt before 0.5)
  std::string domain;         // "d"
  std::string policy_record;  // "pr" ("" when absent)
  std::vector<DatagramPolicy> policies;
};

enum class DatagramError {
  none,
  too_large,            // more than limits::tlsrpt_datagram_max bytes
  bad_json,             // not JSON
  not_object,           // JSON but not an object
  missing_field,        // "d", "policies", "policy-type" or "f" missing
  bad_type,             // a field of the wrong JSON type
  bad_value,            // unknown policy-type / failure code, f not 0/1, empty domain
  too_many,             // more items than the limits allow
  unsupported_version,  // "dpv" other than 1
};

std::string_view to_string(DatagramError e);

struct DatagramResult {
  std::optional<Datagram> datagram;
  DatagramError error = DatagramError::none;
  std::string detail;  // which field, for the "kept for inspection" record
};

DatagramResult parse_tlsrpt_datagram(std::string_view bytes);

}  // namespace tlsfence::parse
