-- on-dnssec-bogus = continue: RCPT to a DNSSEC-bogus domain continues; lookups are started
-- (prefetch) and never waited for.
dofile(os.getenv("MILTER_SCRIPTS") .. "/common.lua")

local conn = open()
envelope(conn, "<x@other.example>", {"<b@bogus.test>", "<c@slow.test>", "<postmaster>"})
check(not finish(conn, {{"Subject", "x"}}), "no header")
mt.disconnect(conn)
