-- Forced TLS: a forced sender, SASL user, client network or recipient domain gets
-- `X-TLSfence: forced-tls` at end of message; an ordinary message does not.
-- harness: --forced-sender @clinic.example --forced-sasl-user alice
--          --forced-client-network 192.0.2.0/24 --forced-recipient-domain partner.test
dofile(os.getenv("MILTER_SCRIPTS") .. "/common.lua")

local conn = open()
check(mt.test_action(conn, SMFIF_ADDHDRS), "SMFIF_ADDHDRS negotiated")
check(mt.test_option(conn, SMFIP_NOBODY), "body negotiated out")

envelope(conn, "<doc@clinic.example>", {"<a@ok.test>"})
check(finish(conn, {{"Subject", "forced by sender"}}), "forced sender: header added")

envelope(conn, "<x@other.example>", {"<a@ok.test>"}, "Alice")
check(finish(conn, {{"Subject", "forced by SASL user"}}), "forced SASL user: header added")

envelope(conn, "<x@other.example>", {"<a@ok.test>", "<b@mx.partner.test>"})
check(finish(conn, {{"Subject", "forced by recipient domain"}}), "forced recipient domain: header added")

envelope(conn, "<x@other.example>", {"<a@ok.test>"})
check(not finish(conn, {{"Subject", "ordinary"}}), "ordinary message: no header")

envelope(conn, "<>", {"<a@ok.test>"})
check(not finish(conn, {{"Subject", "bounce"}}), "null sender: no header")
mt.disconnect(conn)

local net = open("192.0.2.44")
envelope(net, "<x@other.example>", {"<a@ok.test>"})
check(finish(net, {{"Subject", "forced by client network"}}), "forced client network: header added")
mt.disconnect(net)
