-- One message from a@forced.example to b@nosuch.test through the tlsfenced milter; checks
-- whether `X-TLSfence: forced-tls` was added against FORCED ("yes" or "no"). The caller
-- sets MILTER_SOCKET (unix:PATH) and FORCED.
local function check(cond, what)
  if not cond then error("FAILED: " .. what) end
end
local conn = mt.connect(os.getenv("MILTER_SOCKET"), 50, 0.1)
check(conn ~= nil, "mt.connect")
check(mt.conninfo(conn, "client.example", "203.0.113.5") == nil, "mt.conninfo")
check(mt.getreply(conn) == SMFIR_CONTINUE, "connect continues")
mt.macro(conn, SMFIC_MAIL, "i", "QID1")
check(mt.mailfrom(conn, "<a@forced.example>") == nil, "mt.mailfrom")
check(mt.getreply(conn) == SMFIR_CONTINUE, "MAIL FROM continues")
check(mt.rcptto(conn, "<b@nosuch.test>") == nil, "mt.rcptto")
check(mt.getreply(conn) == SMFIR_CONTINUE, "RCPT TO continues")
-- DATA: a message no forced-TLS rule applies to is accepted there (the MTA then sends that
-- milter nothing more of it). No header is sent: without forced-TLS rules the milter
-- negotiates headers out.
check(mt.data(conn) == nil, "mt.data")
local data_reply = mt.getreply(conn)
local marked = false
if data_reply ~= SMFIR_ACCEPT then
  check(data_reply == SMFIR_CONTINUE, "DATA continues")
  check(mt.eom(conn) == nil, "mt.eom")
  check(mt.getreply(conn) == SMFIR_CONTINUE, "end of message continues")
  marked = mt.eom_check(conn, MT_HDRADD, "X-TLSfence", "forced-tls")
end
mt.disconnect(conn)
check(marked == (os.getenv("FORCED") == "yes"), "X-TLSfence header added: " .. tostring(marked))
