// Connection strings: libpq's parser decides validity; a logged form never holds a secret.
#include <gtest/gtest.h>

#include "fleet/conninfo.h"

namespace tlsfence::fleet {
namespace {

TEST(Conninfo, BothFormsParse) {
  EXPECT_EQ(conninfo_error("host=db.example dbname=tlsfence user=tlsfence"), "");
  EXPECT_EQ(conninfo_error("postgresql://tlsfence@db.example:5433/tlsfence?sslmode=verify-full"), "");
  EXPECT_EQ(conninfo_error(""), "");
}

TEST(Conninfo, ErrorsNeverRepeatTheSecret) {
  for (const char* bad : {"host=db password='s3cret", "host=db s3cret=x", "host=db port=s3cret x",
                          "postgresql://u:s3cret@db/x?s3cret=1", "postgresql://u:s3cret@db/x?sslmode=%zz"}) {
    const std::string why = conninfo_error(bad);
    EXPECT_NE(why, "") << bad;
    EXPECT_EQ(why.find("s3cret"), std::string::npos) << bad << " -> " << why;
  }
  EXPECT_NE(conninfo_error("host=db nosuchoption=1").find("\"nosuchoption\""), std::string::npos);
}

TEST(Conninfo, RedactedFormHidesPasswords) {
  const std::string kv = redact_conninfo("host=db.example dbname=tlsfence user=tlsfence password=s3cret");
  EXPECT_EQ(kv, "user=tlsfence password=*** dbname=tlsfence host=db.example");
  const std::string uri =
      redact_conninfo("postgresql://tlsfence:s3cret@db.example:5433/tlsfence?sslmode=require");
  EXPECT_EQ(uri.find("s3cret"), std::string::npos) << uri;
  EXPECT_NE(uri.find("password=***"), std::string::npos) << uri;
  EXPECT_NE(uri.find("host=db.example"), std::string::npos) << uri;
  EXPECT_NE(uri.find("sslmode=require"), std::string::npos) << uri;
  EXPECT_EQ(redact_conninfo("host=db sslpassword=k3y").find("k3y"), std::string::npos);
  EXPECT_EQ(redact_conninfo("host=db password='s3cret"), "(unparsable connection string)");
  EXPECT_EQ(redact_conninfo("application_name='a b'"), "application_name='a b'");
  EXPECT_EQ(redact_conninfo(""), "");
}

}  // namespace
}  // namespace tlsfence::fleet
