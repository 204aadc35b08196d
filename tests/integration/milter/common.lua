-- Helpers shared by the tlsfence milter scripts (loaded with dofile; the wrapper sets
-- MILTER_SOCKET and MILTER_SCRIPTS).
function check(cond, what)
  if not cond then error("FAILED: " .. what) end
end

function expect_reply(conn, want, what)
  local got = mt.getreply(conn)
  if got ~= want then
    error(string.format("FAILED: %s: reply %q, want %q", what, string.char(got), string.char(want)))
  end
end

function open(client_ip)
  local conn = mt.connect(os.getenv("MILTER_SOCKET"), 50, 0.1)
  check(conn ~= nil, "mt.connect")
  check(mt.conninfo(conn, "client.example", client_ip or "203.0.113.5") == nil, "mt.conninfo")
  expect_reply(conn, SMFIR_CONTINUE, "connect")
  return conn
end

-- MAIL FROM (with optional SASL login name) and the RCPTs, each expected to continue.
function envelope(conn, sender, recipients, sasl_user)
  if sasl_user ~= nil then
    mt.macro(conn, SMFIC_MAIL, "i", "QID1", "{auth_authen}", sasl_user)
  else
    mt.macro(conn, SMFIC_MAIL, "i", "QID1")
  end
  check(mt.mailfrom(conn, sender) == nil, "mt.mailfrom")
  expect_reply(conn, SMFIR_CONTINUE, "MAIL FROM " .. sender)
  for _, r in ipairs(recipients) do
    check(mt.rcptto(conn, r) == nil, "mt.rcptto")
    expect_reply(conn, SMFIR_CONTINUE, "RCPT TO " .. r)
  end
end

-- DATA, then (unless the door accepted the message at DATA: no forced-TLS rule applies, so it
-- needs neither headers nor end of message and an MTA sends it none) headers (each must
-- continue) and end of message; returns whether the forced-TLS header was added.
function finish(conn, headers)
  check(mt.data(conn) == nil, "mt.data")
  local r = mt.getreply(conn)
  if r == SMFIR_ACCEPT then return false end
  check(r == SMFIR_CONTINUE, "DATA: reply " .. string.char(r))
  for _, h in ipairs(headers or {}) do
    check(mt.header(conn, h[1], h[2]) == nil, "mt.header")
    expect_reply(conn, SMFIR_CONTINUE, "header " .. h[1])
  end
  check(mt.eom(conn) == nil, "mt.eom")
  expect_reply(conn, SMFIR_CONTINUE, "end of message")
  return mt.eom_check(conn, MT_HDRADD, "X-TLSfence", "forced-tls")
end
