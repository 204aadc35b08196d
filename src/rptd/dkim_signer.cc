// DkimSigner over libopendkim (see dkim_signer.h). The key's type is read with OpenSSL to pick
// the algorithm and to say clearly what is wrong with a bad key file.
#include "rptd/dkim_signer.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

// dkim.h is C99: its _Bool is C++'s bool (same size and ABI on every g++/clang target).
#define _Bool bool
extern "C" {
#include <opendkim/dkim.h>
}
#undef _Bool

namespace tlsfence::rptd {

struct DkimSigner::Lib {
  DKIM_LIB* lib = nullptr;
  ~Lib() {
    if (lib) dkim_close(lib);
  }
};

namespace {

// The header fields signed (when present).
const char* signed_headers[] = {"from",
                                "to",
                                "subject",
                                "date",
                                "message-id",
                                "mime-version",
                                "content-type",
                                "tls-report-domain",
                                "tls-report-submitter",
                                "tls-required",
                                nullptr};

// RSA → rsa-sha256, Ed25519 → ed25519-sha256; -1 for anything else.
int algorithm_of(const std::string& pem, std::string& why) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr, EVP_PKEY_free);
  if (!key) {
    why = "not a PEM private key";
    return -1;
  }
  switch (EVP_PKEY_base_id(key.get())) {
    case EVP_PKEY_RSA: return DKIM_SIGN_RSASHA256;
    case EVP_PKEY_ED25519: return DKIM_SIGN_ED25519SHA256;
    default: why = "key type is neither RSA nor Ed25519"; return -1;
  }
}

std::string with_crlf(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out += '\r';
    out += s[i];
  }
  return out;
}

}  // namespace

DkimSigner::DkimSigner(std::string key_pem, std::string selector, std::string domain)
    : lib_(std::make_unique<Lib>()),
      key_(std::move(key_pem)),
      selector_(std::move(selector)),
      domain_(std::move(domain)) {
  std::string why;
  algorithm_ = algorithm_of(key_, why);
  if (algorithm_ < 0) throw DkimConfigError("tlsrpt.dkim-key: " + why);
  lib_->lib = dkim_init(nullptr, nullptr);
  if (!lib_->lib) throw DkimConfigError("tlsrpt.dkim-key: libopendkim initialisation failed");
  // The option's value is the NULL-terminated list itself (a char **), its size that of a pointer.
  const char** list = signed_headers;
  if (dkim_options(lib_->lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, list, sizeof list) != DKIM_STAT_OK)
    throw DkimConfigError("tlsrpt.dkim-key: libopendkim refused the header list");
  std::string error;
  if (!sign("From: a@" + domain_ + "\r\nSubject: key check\r\n\r\nkey check\r\n", error))
    throw DkimConfigError("tlsrpt.dkim-key: the key does not sign: " + error);
}

DkimSigner::~DkimSigner() = default;

std::optional<std::string> DkimSigner::sign(std::string_view message, std::string& error) const {
  DKIM_STAT status = DKIM_STAT_OK;
  auto* key = reinterpret_cast<dkim_sigkey_t>(const_cast<char*>(key_.c_str()));
  DKIM* d = dkim_sign(lib_->lib, reinterpret_cast<const unsigned char*>("tlsrpt"), nullptr, key,
                      reinterpret_cast<const unsigned char*>(selector_.c_str()),
                      reinterpret_cast<const unsigned char*>(domain_.c_str()), DKIM_CANON_RELAXED,
                      DKIM_CANON_RELAXED, static_cast<dkim_alg_t>(algorithm_), -1, &status);
  if (!d) {
    error = std::string("dkim_sign: ") + dkim_getresultstr(status);
    return std::nullopt;
  }
  std::unique_ptr<DKIM, decltype(&dkim_free)> guard(d, dkim_free);
  std::string copy(message);
  status = dkim_chunk(d, reinterpret_cast<u_char*>(copy.data()), copy.size());
  if (status == DKIM_STAT_OK) status = dkim_chunk(d, nullptr, 0);
  if (status == DKIM_STAT_OK) status = dkim_eom(d, nullptr);
  u_char* header = nullptr;
  size_t length = 0;
  constexpr std::string_view name = "DKIM-Signature";
  if (status == DKIM_STAT_OK) status = dkim_getsighdr_d(d, name.size() + 2, &header, &length);
  if (status != DKIM_STAT_OK || header == nullptr) {
    const char* detail = dkim_geterror(d);
    error = std::string(dkim_getresultstr(status)) + (detail && *detail ? std::string(": ") + detail : "");
    return std::nullopt;
  }
  std::string out;
  out.reserve(message.size() + length + 32);
  out += name;
  out += ": ";
  out += with_crlf(std::string_view(reinterpret_cast<const char*>(header), length));
  out += "\r\n";
  out += message;
  return out;
}

std::unique_ptr<DkimSigner> make_dkim_signer(const Config& cfg) {
  const auto& t = cfg.tlsrpt;
  if (t.dkim_key.empty()) return nullptr;
  if (t.dkim_selector.empty())
    throw DkimConfigError("tlsrpt.dkim-selector: empty, but tlsrpt.dkim-key is set");
  const std::string domain = t.dkim_domain.empty() ? t.submitter : t.dkim_domain;
  if (domain.empty())
    throw DkimConfigError("tlsrpt.dkim-domain: empty and tlsrpt.submitter is empty too: no signing domain");
  std::ifstream in(t.dkim_key, std::ios::binary);
  if (!in) throw DkimConfigError("tlsrpt.dkim-key: cannot read " + t.dkim_key + ": " + std::strerror(errno));
  std::ostringstream pem;
  pem << in.rdbuf();
  if (in.bad()) throw DkimConfigError("tlsrpt.dkim-key: cannot read " + t.dkim_key + ": read error");
  try {
    return std::make_unique<DkimSigner>(pem.str(), t.dkim_selector, domain);
  } catch (const DkimConfigError& e) {
    std::string what = e.what();
    const std::string prefix = "tlsrpt.dkim-key: ";
    if (what.starts_with(prefix)) what = prefix + t.dkim_key + ": " + what.substr(prefix.size());
    throw DkimConfigError(what);
  }
}

}  // namespace tlsfence::rptd
