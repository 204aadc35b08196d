-- RFC 8689: a message with `TLS-Required: No` is never marked, whatever the spelling of
-- the name and the blanks around the value; the next message on the connection is.
-- harness: --forced-sender @clinic.example
dofile(os.getenv("MILTER_SCRIPTS") .. "/common.lua")

local conn = open()
for _, h in ipairs({{"TLS-Required", "No"}, {"tls-required", " no "}, {"TLS-REQUIRED", "\tNO"}}) do
  envelope(conn, "<doc@clinic.example>", {"<a@ok.test>"})
  check(not finish(conn, {{"Subject", "opt out"}, h}), "TLS-Required: No (" .. h[1] .. ") not marked")
end

envelope(conn, "<doc@clinic.example>", {"<a@ok.test>"})
check(finish(conn, {{"Subject", "again"}, {"TLS-Required", "Yes"}}), "TLS-Required: Yes is marked")

envelope(conn, "<doc@clinic.example>", {"<a@ok.test>"})
check(finish(conn, {{"X-TLS-Required", "No"}}), "another header name is marked")
mt.disconnect(conn)
