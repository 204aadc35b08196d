// DkimSigner over libopendkim: a signed report mail starts with a DKIM-Signature naming the
// algorithm of the key (RSA, Ed25519), the domain, the selector and the RFC 8460 headers; bad
// [tlsrpt] dkim-* settings are DkimConfigErrors naming the key. The signature itself is verified
// by an independent verifier in tests/integration/rptd/test_report_receivers.py.
#include "rptd/dkim_signer.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "tlsrpt/report.h"

// In the ASan build: full stacks for every allocation in this binary, so that LeakSanitizer
// can match libopendkim's own leak in dkim_privkey_load (tests/lsan.supp) even where OpenSSL,
// built without frame pointers, would cut the fast unwinder's stack short.
extern "C" const char* __asan_default_options() {
  return "fast_unwind_on_malloc=0";
}

namespace tlsfence::rptd {
namespace {

std::string pem_of(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  EXPECT_EQ(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string new_key(bool ed25519) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      ed25519 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519") : EVP_RSA_gen(2048), EVP_PKEY_free);
  EXPECT_TRUE(key);
  return pem_of(key.get());
}

std::string header_of(const std::string& mail) {
  std::string h;
  std::size_t i = 0;
  do {
    const auto eol = mail.find("\r\n", i);
    h += mail.substr(i, eol - i);
    i = eol + 2;
  } while (i < mail.size() && (mail[i] == ' ' || mail[i] == '\t'));
  return h;
}

std::string report_mail() {
  tlsrpt::ReportMeta meta{"Org", "mailto:ops@sender.example", "sender.example"};
  const auto built = tlsrpt::build_report(meta, 20780, "a.example", {});
  tlsrpt::MailEnvelope env;
  env.from = "tlsrpt-noreply@sender.example";
  env.to = {"tlsrpt@a.example"};
  env.date_unix = 20781 * 86400;
  return tlsrpt::report_mail(meta, built, env);
}

TEST(DkimSigner, SignsWithRsaAndEd25519OverTheReportHeaders) {
  const std::string mail = report_mail();
  for (bool ed : {false, true}) {
    DkimSigner signer(new_key(ed), "tlsrpt", "sender.example");
    std::string error;
    const auto signed_mail = signer.sign(mail, error);
    ASSERT_TRUE(signed_mail) << error;
    ASSERT_TRUE(signed_mail->starts_with("DKIM-Signature: ")) << *signed_mail;
    EXPECT_TRUE(signed_mail->ends_with(mail));
    std::string h = header_of(*signed_mail);
    std::erase_if(h, [](char c) { return c == ' ' || c == '\t'; });
    EXPECT_NE(h.find(ed ? "a=ed25519-sha256;" : "a=rsa-sha256;"), std::string::npos) << h;
    EXPECT_NE(h.find("c=relaxed/relaxed;"), std::string::npos) << h;
    EXPECT_NE(h.find("d=sender.example;"), std::string::npos) << h;
    EXPECT_NE(h.find("s=tlsrpt;"), std::string::npos) << h;
    for (const char* name : {"From", "To", "Subject", "Date", "Message-ID", "TLS-Report-Domain",
                             "TLS-Report-Submitter", "Content-Type"})
      EXPECT_NE(h.find(name), std::string::npos) << name << " not signed: " << h;
    EXPECT_EQ(signed_mail->find("\n", 0), signed_mail->find("\r\n") + 1) << "CRLF line ends";
  }
}

TEST(DkimSigner, ConfigErrorsNameTheKey) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("dkim-signer-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Config cfg;
  EXPECT_EQ(make_dkim_signer(cfg), nullptr);  // no key: unsigned
  cfg.tlsrpt.dkim_key = (dir / "missing.pem").string();
  cfg.tlsrpt.submitter = "sender.example";
  auto message = [&cfg]() -> std::string {
    try {
      make_dkim_signer(cfg);
    } catch (const DkimConfigError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(message(), "tlsrpt.dkim-selector: empty, but tlsrpt.dkim-key is set");
  cfg.tlsrpt.dkim_selector = "tlsrpt";
  EXPECT_EQ(message(), "tlsrpt.dkim-key: cannot read " + cfg.tlsrpt.dkim_key + ": No such file or directory");
  cfg.tlsrpt.dkim_key = (dir / "garbage.pem").string();
  std::ofstream(cfg.tlsrpt.dkim_key) << "not a key\n";
  EXPECT_EQ(message(), "tlsrpt.dkim-key: " + cfg.tlsrpt.dkim_key + ": not a PEM private key");
  cfg.tlsrpt.dkim_key = (dir / "good.pem").string();
  std::ofstream(cfg.tlsrpt.dkim_key) << new_key(false);
  auto signer = make_dkim_signer(cfg);
  ASSERT_TRUE(signer);
  EXPECT_EQ(signer->domain(), "sender.example");  // dkim-domain empty: the submitter
  cfg.tlsrpt.dkim_domain = "signer.example";
  EXPECT_EQ(make_dkim_signer(cfg)->domain(), "signer.example");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tlsfence::rptd
