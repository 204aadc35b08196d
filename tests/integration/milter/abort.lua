-- Per-connection data is freed on every path: a message aborted mid-way (RSET), then a new
-- message on the same connection (its state is fresh); a connection dropped abruptly in the
-- middle of a message; a connection closed right after connect. The wrapper checks the
-- harness ends with no connection data left (open=0) and, in the ASan build,
-- LeakSanitizer checks the heap at the harness's exit.
-- harness: --forced-sender @clinic.example
dofile(os.getenv("MILTER_SCRIPTS") .. "/common.lua")

local conn = open()
envelope(conn, "<doc@clinic.example>", {"<a@ok.test>"})
check(mt.header(conn, "Subject", "aborted") == nil, "mt.header")
expect_reply(conn, SMFIR_CONTINUE, "header")
check(mt.abort(conn) == nil, "mt.abort")
-- the forced sender of the aborted message must not leak into the next one
envelope(conn, "<x@other.example>", {"<a@ok.test>"})
check(not finish(conn, {{"Subject", "after abort"}}), "state reset after abort")
envelope(conn, "<doc@clinic.example>", {"<a@ok.test>"})
check(finish(conn, {{"Subject", "forced after abort"}}), "forced after abort")
mt.disconnect(conn)

for i = 1, 20 do
  local c = open()
  envelope(c, "<doc@clinic.example>", {"<a@ok.test>"})
  check(mt.rcptto(c, "<b@bogus.test>") == nil, "mt.rcptto")
  expect_reply(c, SMFIR_REPLYCODE, "RCPT TO bogus.test")
  check(mt.header(c, "Subject", "dropped") == nil, "mt.header")
  mt.disconnect(c, false)  -- abrupt: no abort, no quit
end

local idle = open()
mt.disconnect(idle)
