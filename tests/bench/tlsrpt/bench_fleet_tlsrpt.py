#!/usr/bin/python3
"""Fleet TLS-RPT benchmarks (run by hand, as root; not part of the ctest suite):

  tests/bench/tlsrpt/bench_fleet_tlsrpt.py BUILD_DIR [sessions-per-host=100000] [domains=100000]
  (BENCH_WRAP="perf record -g -o FILE" profiles the report build)

Uses the test world's private PostgreSQL 15 (tests/world/pg.sh start; nothing else of the
world) and a fresh database set up as README "Running a fleet" says.

1. Ingestion: three real tlsfence-rptd processes ([fleet] host mta-1..3, each its own
   tlsrpt.db) follow a Postfix log each, written before they start: SESSIONS TLS sessions to
   10,000 domains, each session a TLS line, a delivery line and 3 unrelated lines. Timed from
   the start of the three until PostgreSQL holds every session of every host (local commit +
   upload, end to end). Prints lines/s and sessions/s for the fleet, and each sidecar's peak RSS.
2. Report build from PostgreSQL: DOMAINS policy domains x 3 hosts of aggregates stored in
   tlsfence_tlsrpt_outcomes (with SQL), then `tlsfence report build --day D --all --out DIR`
   (fleet mode): read every host's rows, decode, sum per domain, build each RFC 8460 report
   (JSON + gzip) and write it atomically into DIR. Target: <= 10 s. Wall and CPU time printed.
"""
import datetime
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
PSQL = "/usr/lib/postgresql/15/bin/psql"
RUN = os.environ.get("TLSFENCE_WORLD_RUN", "/tmp/tlsfence-world")
DAY = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1))
STAMP = f"{DAY:%b} {DAY.day:2d} 12:00:00"
FILLER = [f"{STAMP} mx postfix/smtpd[812]: connect from unknown[198.51.100.9]\n",
          f"{STAMP} mx postfix/cleanup[813]: 4F1B2C3D4E: message-id=<x@y>\n",
          f"{STAMP} mx postfix/qmgr[700]: 4F1B2C3D4E: removed\n"]


def pg_env():
    env = {}
    with open(os.path.join(RUN, "pg", "pg.env")) as f:
        for line in f:
            if "=" in line:
                k, v = line.strip().split("=", 1)
                env[k] = v.strip("'\"")
    return env


def sql(pg, db, statement):
    r = subprocess.run([PSQL, "-h", pg["PG_SOCK"], "-p", pg["PG_PORT"], "-U", "postgres", "-d", db,
                        "-v", "ON_ERROR_STOP=1", "-Atq", "-c", statement], capture_output=True, text=True,
                       env=dict(os.environ, PGOPTIONS="-c client_min_messages=warning"))
    if r.returncode != 0:
        sys.exit("psql: %s: %s" % (statement[:80], r.stderr))
    return r.stdout.strip()


def write_log(path, host, sessions, domains=10_000):
    with open(path, "w") as f:
        for i in range(sessions):
            d = "d%05d.example" % (i % domains)
            pid = 4000 + i % 97
            f.write(f"{STAMP} {host} postfix/smtp[{pid}]: Verified TLS connection established to mx1.{d}"
                    f"[192.0.2.14]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n")
            f.write(f"{STAMP} {host} postfix/smtp[{pid}]: {i:010X}: to=<u@{d}>, relay=mx1.{d}[192.0.2.14]:25, "
                    f"delay=0.06, delays=0.01/0/0.04/0.01, dsn=2.0.0, status=sent (250 2.0.0 Ok)\n")
            f.writelines(FILLER)
    return sessions * 5


def peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    build = sys.argv[1]
    sessions = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    domains = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    rptd, cli = os.path.join(build, "src/app/tlsfence-rptd"), os.path.join(build, "src/app/tlsfence")
    subprocess.run([os.path.join(ROOT, "tests/world/pg.sh"), "start"], check=True, capture_output=True)
    pg = pg_env()
    db = "bench_" + uuid.uuid4().hex[:10]
    sql(pg, "postgres", "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tlsfence') THEN "
                        "CREATE ROLE tlsfence LOGIN; END IF; END$$")
    sql(pg, "postgres", "CREATE DATABASE %s" % db)
    sql(pg, db, "CREATE SCHEMA tlsfence AUTHORIZATION tlsfence")
    sql(pg, "postgres", "ALTER ROLE tlsfence IN DATABASE %s SET search_path = tlsfence" % db)
    conninfo = "host=%s port=%s dbname=%s user=tlsfence" % (pg["PG_ADDR"], pg["PG_PORT"], db)
    tmp = tempfile.mkdtemp(prefix="bench-fleet-tlsrpt-")
    procs = []
    try:
        def opts(h):
            d = os.path.join(tmp, h)
            return ["--config", os.path.join(ROOT, "contrib/tlsfence.conf"), "--tlsrpt.db=" + d + "/tlsrpt.db",
                    "--cache.db=" + d + "/cache.db", "--tlsrpt.outbox=" + d + "/outbox", "--daemon.user=",
                    "--tlsrpt.socket=", "--tlsrpt.deliver=no", "--tlsrpt.submitter=bench.example",
                    "--fleet.postgresql=" + conninfo, "--fleet.host=" + h, "--daemon.log-level=warning"]

        lines = 0
        for n in range(1, 4):
            os.makedirs(os.path.join(tmp, "mta-%d" % n))
            lines += write_log(os.path.join(tmp, "mta-%d" % n, "mail.log"), "mta-%d" % n, sessions)
        env = dict(os.environ, TLSFENCE_RPTD_REPORT_DELAY="86400")  # no report build meanwhile
        t0 = time.monotonic()
        for n in range(1, 4):
            h = "mta-%d" % n
            procs.append(subprocess.Popen([rptd, *opts(h), "--tlsrpt.postfix-log=" + os.path.join(tmp, h, "mail.log")],
                                          env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, h, "log"), "w")))
        want = 3 * sessions
        got = 0
        while got < want:
            time.sleep(0.2)
            v = sql(pg, db, "SELECT coalesce(sum(sessions), 0) FROM tlsfence.tlsfence_tlsrpt_outcomes") \
                if sql(pg, db, "SELECT to_regclass('tlsfence.tlsfence_tlsrpt_outcomes') IS NOT NULL") == "t" else "0"
            got = int(v)
            if time.monotonic() - t0 > 600:
                sys.exit("ingestion: only %d of %d sessions in PostgreSQL after 600 s" % (got, want))
        elapsed = time.monotonic() - t0
        rss = [peak_rss_kib(p.pid) for p in procs]
        for p in procs:
            p.terminate()
            p.wait(30)
        print("fleet ingestion: 3 hosts x %d sessions (%d log lines in all, 10,000 domains)" % (sessions, lines))
        print("  all in PostgreSQL after %.2f s: %.0f lines/s, %.0f sessions/s for the fleet; peak RSS per "
              "sidecar %s MiB" % (elapsed, lines / elapsed, want / elapsed, ", ".join("%.1f" % (r / 1024) for r in rss)))

        # 2. report build from PostgreSQL
        day = int(DAY.timestamp()) // 86400
        sql(pg, db, "DELETE FROM tlsfence.tlsfence_tlsrpt_outcomes")
        agg = ("'[{\"type\":\"sts\",\"strings\":[\"version: STSv1\",\"mode: enforce\",\"mx: mx1.' || d || "
               "'\",\"max_age: 86400\"],\"domain\":\"' || d || '\",\"mx\":[\"mx1.' || d || '\"],\"ok\":5,"
               "\"fail\":' || f || ',\"details\":' || CASE WHEN f = 1 THEN '[{\"result\":\"certificate-expired\","
               "\"sip\":\"192.0.2.1\",\"mx\":\"mx1.' || d || '\",\"helo\":\"\",\"rip\":\"198.51.100.7\",\"code\":\"\","
               "\"info\":\"\",\"n\":1}]' ELSE '[]' END || '}]'")
        sql(pg, db, "INSERT INTO tlsfence.tlsfence_tlsrpt_outcomes (day, domain, host, format, aggregate, sessions, "
                    "successes, failures, uploaded_at) SELECT %d, d, h, 1, %s, 5 + f, 5, f, 0 FROM (SELECT "
                    "'d' || lpad(i::text, 6, '0') || '.example' AS d, CASE WHEN i %% 10 = 0 THEN 1 ELSE 0 END AS f "
                    "FROM generate_series(1, %d) i) x, (VALUES ('mta-1'), ('mta-2'), ('mta-3')) hosts(h)"
                    % (day, agg, domains))
        sql(pg, db, "ANALYZE tlsfence.tlsfence_tlsrpt_outcomes")
        # Written twice: into the work directory's file system, and into a tmpfs (/dev/shm), which
        # separates the program's cost from the file system's (ext4's inode allocator is slow in a
        # directory tree with many recently deleted files, e.g. next to fuzzing corpora).
        for label, out in (("disk", os.path.join(tmp, "reports")),
                           ("tmpfs", tempfile.mkdtemp(prefix="bench-reports-", dir="/dev/shm"))):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.monotonic()
            wrap = os.environ.get("BENCH_WRAP", "").split()  # e.g. "perf record -g -o /tmp/perf.data"
            r = subprocess.run([*wrap, cli, *opts("mta-1"), "report", "build", "--day", DAY.strftime("%Y-%m-%d"),
                                "--all", "--out", out], capture_output=True, text=True)
            elapsed = time.monotonic() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if r.returncode != 0:
                sys.exit("report build failed: " + r.stderr)
            files = len(os.listdir(out))
            user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
            print("report build from PostgreSQL (%s): %d domains x 3 hosts -> %d reports in %.2f s wall, "
                  "%.2f s user + %.2f s system CPU (tlsfence), peak RSS %.0f MiB"
                  % (label, domains, files, elapsed, user, system, after.ru_maxrss / 1024))
            shutil.rmtree(out, ignore_errors=True)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        sql(pg, "postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % db)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
