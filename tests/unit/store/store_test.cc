#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "policy/decision_json.h"
#include "store/cache_db.h"
#include "store/cache_reader.h"

namespace tlsfence::store {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

struct FakeClock final : Clock {
  std::atomic<std::int64_t> s{1'700'000'000};
  TimePoint now() const override { return TimePoint{seconds{s.load()}}; }
};

struct Logs {
  std::mutex m;
  std::vector<std::string> lines;
  LogFn fn() {
    return [this](std::string line) {
      std::lock_guard g(m);
      lines.push_back(std::move(line));
    };
  }
  std::size_t count(const std::string& needle) {
    std::lock_guard g(m);
    std::size_t n = 0;
    for (const auto& l : lines) n += l.find(needle) != std::string::npos;
    return n;
  }
  std::string all() {
    std::lock_guard g(m);
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }
};

PolicyDecision decision(const std::string& domain, TimePoint at, std::uint32_t ttl = 3600) {
  PolicyDecision d;
  d.domain = domain;
  d.verdict = Verdict::policy;
  d.source = Source::mta_sts;
  d.level = "secure match=." + domain + " servername=hostname";
  d.mx_dnssec = DnssecState::insecure;
  d.sts =
      StsPolicy{StsPolicy::Mode::enforce, {"*." + domain}, 86400, "id1", {"version: STSv1", "mode: enforce"}};
  d.ttl = ttl;
  d.decided_at = at;
  d.reasons = {"MTA-STS policy enforce"};
  return d;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tlsfence-store-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    path = dir + "/cache.db";
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir, fs::perms::owner_all, ec);
    fs::remove_all(dir, ec);
  }
  CacheDb::Options fast() {
    CacheDb::Options o;
    o.batch_delay = std::chrono::milliseconds(1);
    o.retry_after = std::chrono::milliseconds(20);
    return o;
  }
  std::unique_ptr<CacheDb> open_db(CacheDb::Options o) {
    return std::make_unique<CacheDb>(path, logs.fn(), clock, o);
  }
  std::unique_ptr<CacheDb> open_db() { return open_db(fast()); }
  std::shared_ptr<const PolicyDecision> put(CacheDb& db, const std::string& domain,
                                            std::uint32_t ttl = 3600) {
    auto d = std::make_shared<const PolicyDecision>(decision(domain, clock.now(), ttl));
    db.put_decision(d, clock.now() + seconds(ttl), clock.now() + seconds(ttl));
    return d;
  }
  std::string pragma(const std::string& sql) {
    int code;
    std::string err;
    auto db = store::open_db(path, SQLITE_OPEN_READONLY, code, err);
    if (!db) return "open failed: " + err;
    Statement st(db.get(), sql.c_str());
    if (!st.ok() || st.step() != SQLITE_ROW) return "query failed";
    return std::string(st.text(0));
  }

  std::string dir, path;
  FakeClock clock;
  Logs logs;
};

TEST_F(StoreTest, RoundTripThroughWriterAndReader) {
  auto db = open_db();
  auto d = put(*db, "example.com");
  CachedSts sts{*d->sts, clock.now()};
  db->put_sts("example.com", sts);
  ASSERT_TRUE(db->sync()) << logs.all();
  EXPECT_TRUE(db->healthy());

  std::string error;
  auto reader = CacheReader::open(path, error);
  ASSERT_TRUE(reader) << error;
  auto got = reader->decision("example.com");
  ASSERT_TRUE(got);
  EXPECT_EQ(policy::decision_to_json(got->decision), policy::decision_to_json(*d));
  EXPECT_EQ(got->expires_at, clock.now() + seconds(3600));
  EXPECT_FALSE(reader->decision("other.com"));
  auto s = reader->sts("example.com");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->policy.id, "id1");
  EXPECT_EQ(s->fetched_at, clock.now());
  EXPECT_EQ(reader->all_sts().size(), 1u);

  auto loaded = db->load();
  ASSERT_EQ(loaded.decisions.size(), 1u);
  ASSERT_EQ(loaded.sts.size(), 1u);
  EXPECT_EQ(loaded.sts[0].domain, "example.com");
}

TEST_F(StoreTest, WalModeAndSchemaVersion) {
  auto db = open_db();
  EXPECT_EQ(pragma("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(pragma("PRAGMA user_version"), std::to_string(kCacheSchemaVersion));
}

TEST_F(StoreTest, RestartAnswersFromTheCacheAtOnce) {
  {
    asio::io_context io;
    auto db = open_db();
    policy::PolicyCache cache(io.get_executor(), clock, policy::CacheOptions{}, db.get());
    cache.insert(decision("warm.test", clock.now()));
    cache.insert(decision("short.test", clock.now(), 60));
    auto sts = decision("warm.test", clock.now()).sts;
    cache.put_sts("warm.test", CachedSts{*sts, clock.now()});
  }                // destructor writes the queue
  clock.s += 120;  // short.test expired (its STS max_age still runs: kept as a stale base)
  asio::io_context io;
  auto db = open_db();
  policy::PolicyCache cache(io.get_executor(), clock, policy::CacheOptions{}, db.get());
  EXPECT_EQ(db->load_into(cache), 2u);
  auto hit = cache.find_fresh("warm.test");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->level, "secure match=.warm.test servername=hostname");
  EXPECT_EQ(cache.find_fresh("short.test"), nullptr);
  ASSERT_TRUE(cache.get_sts("warm.test"));
  EXPECT_EQ(cache.get_sts("warm.test")->policy.id, "id1");
}

TEST_F(StoreTest, RowsPastValidityAreNotLoadedAndArePurged) {
  {
    auto db = open_db();
    auto d = std::make_shared<const PolicyDecision>(decision("gone.test", clock.now(), 60));
    db->put_decision(d, clock.now() + seconds(60), clock.now() + seconds(60));
    put(*db, "kept.test");
    ASSERT_TRUE(db->sync());
  }
  clock.s += 600;
  auto db = open_db();
  auto loaded = db->load();
  ASSERT_EQ(loaded.decisions.size(), 1u);
  EXPECT_EQ(loaded.decisions[0].decision.domain, "kept.test");
  std::string error;
  auto reader = CacheReader::open(path, error);
  ASSERT_TRUE(reader) << error;
  EXPECT_EQ(reader->decisions().size(), 1u);  // purged on open
}

TEST_F(StoreTest, EraseAndEraseAll) {
  auto db = open_db();
  put(*db, "a.test");
  put(*db, "b.test");
  db->put_sts("a.test", CachedSts{*decision("a.test", clock.now()).sts, clock.now()});
  db->erase_decision("a.test");
  ASSERT_TRUE(db->sync());
  std::string error;
  auto reader = CacheReader::open(path, error);
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->decisions().size(), 1u);
  db->erase_sts("a.test");
  ASSERT_TRUE(db->sync());
  EXPECT_TRUE(reader->all_sts().empty());
  db->erase_all();
  ASSERT_TRUE(db->sync());
  EXPECT_TRUE(reader->decisions().empty());
}

TEST_F(StoreTest, CorruptFileIsRenamedAndRecreated) {
  {
    std::ofstream f(path, std::ios::binary);
    f << std::string(8192, 'G') << "this is not a database";
  }
  auto db = open_db();
  EXPECT_EQ(logs.count("corrupt"), 1u) << logs.all();
  const fs::path renamed = path + ".corrupt-" + std::to_string(clock.s.load());
  ASSERT_TRUE(fs::exists(renamed)) << logs.all();
  EXPECT_EQ(fs::file_size(renamed), 8192u + 22u);
  put(*db, "after.test");
  ASSERT_TRUE(db->sync()) << logs.all();
  EXPECT_EQ(db->load().decisions.size(), 1u);
  EXPECT_EQ(pragma("PRAGMA journal_mode"), "wal");
}

TEST_F(StoreTest, GarbageAfterAValidHeaderIsAlsoRecovered) {
  {
    auto db = open_db();
    for (int i = 0; i < 200; ++i) put(*db, "d" + std::to_string(i) + ".test");
    ASSERT_TRUE(db->sync());
  }
  {  // keep the 100-byte header, smash the pages
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f << std::string(static_cast<std::size_t>(fs::file_size(path)) - 100, '\x5a');
  }
  fs::remove(path + "-wal");
  fs::remove(path + "-shm");
  auto db = open_db();
  auto loaded = db->load();  // whatever survives, no crash
  put(*db, "new.test");
  EXPECT_TRUE(db->sync()) << logs.all();
  EXPECT_GE(logs.count("corrupt"), 1u) << logs.all();
}

TEST_F(StoreTest, MissingDirectoryNeverStopsTheCache) {
  path = dir + "/not-yet/cache.db";
  auto db = open_db();
  EXPECT_EQ(logs.count("cannot open"), 1u) << logs.all();
  asio::io_context io;
  policy::PolicyCache cache(io.get_executor(), clock, policy::CacheOptions{}, db.get());
  cache.insert(decision("mem.test", clock.now()));
  EXPECT_NE(cache.find_fresh("mem.test"), nullptr);  // memory serves
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(db->sync());
  EXPECT_FALSE(db->healthy());
  EXPECT_EQ(logs.count("cannot open"), 1u) << "logged once per kind:\n" << logs.all();
  EXPECT_EQ(db->pending(), 1u);
  // The directory appears: the queued write goes through on a retry.
  fs::create_directories(dir + "/not-yet");
  bool ok = false;
  for (int i = 0; i < 100 && !ok; ++i) ok = db->sync();
  EXPECT_TRUE(ok) << logs.all();
  EXPECT_EQ(logs.count("work again"), 1u);
  EXPECT_EQ(db->load().decisions.size(), 1u);
}

TEST_F(StoreTest, FullDiskIsLoggedOnceAndMemoryServes) {
  auto o = fast();
  o.max_page_count = 8;  // a few pages: the database fills up quickly
  auto db = open_db(o);
  asio::io_context io;
  policy::PolicyCache cache(io.get_executor(), clock, policy::CacheOptions{}, db.get());
  for (int i = 0; i < 2000; ++i) cache.insert(decision("full" + std::to_string(i) + ".test", clock.now()));
  EXPECT_FALSE(db->sync());
  EXPECT_FALSE(db->sync());
  EXPECT_EQ(logs.count("full"), 1u) << logs.all();
  EXPECT_EQ(cache.size(), 2000u);
  EXPECT_NE(cache.find_fresh("full1999.test"), nullptr);
}

TEST_F(StoreTest, ReadOnlyDirectoryAsUnprivilegedUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
  {
    auto db = open_db();
    put(*db, "before.test");
    ASSERT_TRUE(db->sync());
  }
  // Owned by root, mode 0755 directory and 0644 file: read-only for nobody.
  chmod(dir.c_str(), 0755);
  chmod(path.c_str(), 0644);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(10);
    Logs child_logs;
    FakeClock child_clock;
    CacheDb db(path, child_logs.fn(), child_clock, fast());
    asio::io_context io;
    policy::PolicyCache cache(io.get_executor(), child_clock, policy::CacheOptions{}, &db);
    db.load_into(cache);
    cache.insert(decision("during.test", child_clock.now()));
    if (!cache.find_fresh("during.test")) _exit(11);
    if (!cache.find_fresh("before.test")) _exit(12);  // loaded from the read-only file
    if (db.sync()) _exit(13);                         // the write cannot succeed …
    if (child_logs.count("cannot") == 0) _exit(14);   // … and says so
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(StoreTest, ConcurrentReaderWhileWriterWrites) {
  auto db = open_db();
  put(*db, "seed.test");
  ASSERT_TRUE(db->sync());
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, errors{0};
  std::size_t last = 0;
  bool monotonic = true;
  std::thread reader([&] {
    std::string error;
    auto r = CacheReader::open(path, error, {}, std::chrono::seconds(5));
    if (!r) {
      ++errors;
      return;
    }
    while (!done) {
      auto n = r->decisions().size();
      if (r->last_code() != SQLITE_DONE) ++errors;
      if (n < last) monotonic = false;
      last = n;
      ++reads;
    }
  });
  for (int i = 0; i < 3000; ++i) {
    put(*db, "w" + std::to_string(i) + ".test");
    if (i % 500 == 0) db->sync();
  }
  EXPECT_TRUE(db->sync());
  while (reads < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  done = true;
  reader.join();
  EXPECT_EQ(errors, 0);
  EXPECT_TRUE(monotonic);
  std::string error;
  auto r = CacheReader::open(path, error);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->decisions().size(), 3001u);
}

TEST_F(StoreTest, CommittedEntriesSurviveKill9) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Logs child_logs;
    CacheDb db(path, child_logs.fn(), clock, fast());
    for (int i = 0; i < 500; ++i) {
      auto d =
          std::make_shared<const PolicyDecision>(decision("k" + std::to_string(i) + ".test", clock.now()));
      db.put_decision(d, clock.now() + seconds(3600), clock.now() + seconds(3600));
    }
    if (!db.sync()) _exit(3);
    for (int i = 500; i < 5000; ++i) {  // more writes in flight when killed
      auto d =
          std::make_shared<const PolicyDecision>(decision("k" + std::to_string(i) + ".test", clock.now()));
      db.put_decision(d, clock.now() + seconds(3600), clock.now() + seconds(3600));
    }
    raise(SIGKILL);
    _exit(4);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  auto db = open_db();
  EXPECT_EQ(logs.count("corrupt"), 0u) << logs.all();
  auto loaded = db->load();
  EXPECT_GE(loaded.decisions.size(), 500u);
  std::set<std::string> names;
  for (auto& d : loaded.decisions) names.insert(d.decision.domain);
  for (int i = 0; i < 500; ++i) EXPECT_TRUE(names.count("k" + std::to_string(i) + ".test")) << i;
  EXPECT_EQ(pragma("PRAGMA integrity_check"), "ok");
}

TEST_F(StoreTest, BadJsonRowIsSkippedWithALogLine) {
  {
    auto db = open_db();
    put(*db, "good.test");
    ASSERT_TRUE(db->sync());
  }
  {
    int code;
    std::string err;
    auto raw = store::open_db(path, SQLITE_OPEN_READWRITE, code, err);
    ASSERT_TRUE(raw) << err;
    const std::string until = std::to_string(clock.s.load() + 3600);
    ASSERT_EQ(
        exec(
            raw.get(),
            ("INSERT INTO decision VALUES ('bad.test', '{\"domain\":', 0, " + until + ", " + until +
             "); INSERT INTO decision VALUES ('typed.test', '{\"domain\":\"typed.test\",\"verdict\":7}', "
             "0, " +
             until + ", " + until + "); INSERT INTO sts_policy VALUES ('bad.test', 'nope', 0, " + until + ")")
                .c_str()),
        SQLITE_OK);
  }
  auto db = open_db();
  auto loaded = db->load();
  ASSERT_EQ(loaded.decisions.size(), 1u);
  EXPECT_EQ(loaded.decisions[0].decision.domain, "good.test");
  EXPECT_TRUE(loaded.sts.empty());
  EXPECT_EQ(logs.count("bad.test"), 2u) << logs.all();
  EXPECT_EQ(logs.count("typed.test"), 1u) << logs.all();
  std::string error;
  auto reader = CacheReader::open(path, error);
  ASSERT_TRUE(reader);
  EXPECT_FALSE(reader->decision("bad.test"));
  EXPECT_TRUE(reader->decision("good.test"));
}

TEST_F(StoreTest, NewerSchemaIsLeftAlone) {
  {
    int code;
    std::string err;
    auto raw = store::open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, code, err);
    ASSERT_TRUE(raw);
    ASSERT_EQ(exec(raw.get(), "CREATE TABLE future(x); PRAGMA user_version = 99;"), SQLITE_OK);
  }
  auto db = open_db();
  EXPECT_EQ(logs.count("newer"), 1u) << logs.all();
  put(*db, "x.test");
  EXPECT_FALSE(db->sync());
  EXPECT_EQ(pragma("PRAGMA user_version"), "99");
  std::string error;
  EXPECT_FALSE(CacheReader::open(path, error));
  EXPECT_NE(error.find("newer"), std::string::npos);
}

TEST_F(StoreTest, ReaderOfMissingFileFailsCleanly) {
  std::string error;
  EXPECT_FALSE(CacheReader::open(dir + "/nothing.db", error));
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace tlsfence::store
