-- A lookup slower than `wait` (slow.test answers "bogus" after 5 s) does not hold the
-- recipient: with on-dnssec-bogus = defer it still continues, well before the lookup ends.
-- harness: --on-dnssec-bogus defer --wait-ms 300
dofile(os.getenv("MILTER_SCRIPTS") .. "/common.lua")

local conn = open()
local start = os.time()
envelope(conn, "<x@other.example>", {"<c@slow.test>"})
check(os.time() - start <= 2, "RCPT answered within the wait")
-- no forced-TLS rule: the door negotiated headers out, so none are sent
check(not finish(conn), "no header")
mt.disconnect(conn)
