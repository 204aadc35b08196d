-- on-dnssec-bogus = defer or reject: RCPT to a DNSSEC-bogus domain gets a reply code
-- (451 4.7.5 / 550 5.7.5, checked by the wrapper in the harness log); other recipients of
-- the same message continue.
dofile(os.getenv("MILTER_SCRIPTS") .. "/common.lua")

local conn = open()
envelope(conn, "<x@other.example>", {"<a@ok.test>"})
check(mt.rcptto(conn, "<b@bogus.test>") == nil, "mt.rcptto")
expect_reply(conn, SMFIR_REPLYCODE, "RCPT TO bogus.test")
check(mt.rcptto(conn, "<c@ok.test>") == nil, "mt.rcptto")
expect_reply(conn, SMFIR_CONTINUE, "RCPT TO ok.test after a refused one")
check(not finish(conn, {{"Subject", "x"}}), "no header")
mt.disconnect(conn)
