#pragma once
// DKIM signing of report mail ([tlsrpt] dkim-key, dkim-selector, dkim-domain). RFC 8460 (§3, §5)
// asks that report mail be DKIM-signed (RFC 6376) and lets receivers discard unsigned or
// unverifiable reports; the key record may restrict itself to reports with the service type
// `s=tlsrpt` (the DKIM service type RFC 8460 registers). The signature (rsa-sha256 or ed25519-sha256 after
// the key's type, relaxed/relaxed, over From, To, Subject, Date, Message-ID, MIME-Version, Content-Type,
// TLS-Report-Domain, TLS-Report-Submitter and TLS-Required) is computed by libopendkim: no
// canonicalisation here.
//
// The key is read once, when the signer is made (at start-up, before the privilege drop), and
// checked by signing a test message: an unreadable or unusable key, or a key without a
// selector, is a DkimConfigError naming the key. Without dkim-key, report mail is unsigned
// and can be signed by the MTA's own signer (e.g. OpenDKIM as a milter of the submission).
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tlsfence/config.h"

namespace tlsfence::rptd {

class DkimConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class DkimSigner {
 public:
  // `key_pem`: a PEM private key (RSA or Ed25519). Throws DkimConfigError.
  DkimSigner(std::string key_pem, std::string selector, std::string domain);
  ~DkimSigner();
  DkimSigner(const DkimSigner&) = delete;
  DkimSigner& operator=(const DkimSigner&) = delete;

  // The message (CRLF line ends) with a DKIM-Signature header field in front; nullopt with
  // `error` set when libopendkim fails.
  std::optional<std::string> sign(std::string_view message, std::string& error) const;

  const std::string& selector() const { return selector_; }
  const std::string& domain() const { return domain_; }

 private:
  struct Lib;
  std::unique_ptr<Lib> lib_;
  std::string key_, selector_, domain_;
  int algorithm_ = 0;
};

// The signer [tlsrpt] dkim-* ask for: nullptr when dkim-key is empty. Throws DkimConfigError
// ("tlsrpt.dkim-key: cannot read FILE: …", "tlsrpt.dkim-selector: empty, but dkim-key is set").
std::unique_ptr<DkimSigner> make_dkim_signer(const Config& cfg);

}  // namespace tlsfence::rptd
