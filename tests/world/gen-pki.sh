#!/usr/bin/env bash
# gen-pki.sh — the test CA and every server certificate (EC P-256), under $RUN/pki.
# Kept across runs; a certificate is re-issued only when its names change.
#   ca.pem                      the test CA (WORLD_CA)
#   mx.{key,pem,chain.pem}      postfix-in on .10–.15: every mx*.test name of DOMAINS.md
#   wrong.{key,pem,chain.pem}   CN/SAN wrong.test (postfix-in .16, mta-sts.stswrongcert.test)
#   web.{key,pem,chain.pem}     nginx: every ordinary mta-sts.<domain> host
#   odd.{key,pem,chain.pem}     python stand-in on .21/.22: mta-sts.stschunked.test, tlsrpt.test, …
#   expired.{key,pem,chain.pem} mta-sts.stsexpired.test, valid only in January 2020
#   mxexpired.{key,pem,chain.pem} postfix-in .17: mx1.stsmxexpired.test, mx1.danemxexpired.test,
#                               valid only in January 2020
#   pg.{key,pem,chain.pem}      PostgreSQL of pg.sh once `pg.sh tls on`: pg.fleet.test, IP $PG_ADDR
#   dkim-tlsrpt.key, .pub.b64   RSA 2048 DKIM key of the report submitter sender.test (selector
#                               tlsrpt, published with s=tlsrpt by gen-dns.sh; WORLD_DKIM_KEY)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
P=$RUN/pki
mkdir -p "$P"
cd "$P"

if [ ! -s ca.pem ] || [ ! -s ca.key ]; then
  rm -f ./*.pem ./*.key ./*.san ./*.srl index.txt*
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout ca.key -out ca.pem -days 3650 -subj "/O=tlsfence test world/CN=tlsfence Test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
fi

ext() { # ext SAN — extension section for a TLS server leaf
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=$1" \
    "authorityKeyIdentifier=keyid" "subjectKeyIdentifier=hash"
}

issue() { # issue NAME CN SAN — re-issued when SAN changed
  local name=$1 cn=$2 san=$3
  if [ -s "$name.pem" ] && [ -s "$name.key" ] && [ "$(cat "$name.san" 2>/dev/null)" = "$san" ]; then
    return 0
  fi
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$name.key" -out "$name.csr" -subj "/O=tlsfence test world/CN=$cn" 2>/dev/null
  ext "$san" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
    -days 825 -sha256 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
  cat "$name.pem" ca.pem > "$name.chain.pem"
  echo "$san" > "$name.san"
  rm -f "$name.csr" "$name.ext"
}

san() { local out= n; for n in "$@"; do out+="${out:+,}DNS:$n"; done; echo "$out"; }

issue mx mx1.dane.test "$(san mx1.dane.test mx2.dane.test mx1.partial.test mx2.partial.test \
  mx1.unusable.test mx1.danefail.test mx1.expired.test mx1.bogus.test mx1.bogustlsa.test \
  mx1.insecure.test implicit.test mx.cname.test mx1.nostarttls.test mx1.sts.test '*.mx.sts.test' \
  mx1.reports.test)"
issue wrong wrong.test "$(san wrong.test)"
web_names=()
for d in sts ststesting stsnone stsredirect stshtml stsbig sts404 stsmismatch stsmxexpired stsbadtxt stsid \
         stsdane fleet; do
  web_names+=("mta-sts.$d.test")
done
issue web mta-sts.sts.test "$(san "${web_names[@]}")"
issue odd mta-sts.stschunked.test "$(san mta-sts.stschunked.test mta-sts.stshang.test tlsrpt.test)"
issue pg pg.fleet.test "DNS:pg.fleet.test,IP:$PG_ADDR"   # pg.sh tls on (fleet tests, sslmode)

# Expired certificates: `openssl x509 -req` (3.0) cannot set a start date; `openssl ca` can.
issue_expired() { # issue_expired NAME CN SAN — valid only in January 2020; re-issued when SAN changed
  local name=$1 cn=$2 san=$3
  if [ -s "$name.pem" ] && [ -s "$name.key" ] && [ "$(cat "$name.san" 2>/dev/null)" = "$san" ]; then
    return 0
  fi
  mkdir -p ca-db
  : > ca-db/index.txt
  [ -s ca-db/serial ] || echo 1000 > ca-db/serial
  cat > ca-db/ca.cnf <<EOF
[ca]
default_ca = testca
[testca]
dir = $P/ca-db
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
certificate = $P/ca.pem
private_key = $P/ca.key
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[anything]
commonName = supplied
organizationName = optional
[leaf]
$(ext "$san")
EOF
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$name.key" -out "$name.csr" -subj "/O=tlsfence test world/CN=$cn" 2>/dev/null
  openssl ca -batch -config ca-db/ca.cnf -extensions leaf -notext \
    -startdate 20200101000000Z -enddate 20200201000000Z -in "$name.csr" -out "$name.pem" 2>/dev/null
  cat "$name.pem" ca.pem > "$name.chain.pem"
  echo "$san" > "$name.san"
  rm -f "$name.csr"
}
issue_expired expired mta-sts.stsexpired.test "$(san mta-sts.stsexpired.test)"
issue_expired mxexpired mx1.stsmxexpired.test "$(san mx1.stsmxexpired.test mx1.danemxexpired.test)"

# DKIM key that signs report mail in the tests (made once, kept)
[ -s dkim-tlsrpt.key ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out dkim-tlsrpt.key 2>/dev/null
[ -s dkim-tlsrpt.pub.b64 ] && [ dkim-tlsrpt.pub.b64 -nt dkim-tlsrpt.key ] \
  || openssl pkey -in dkim-tlsrpt.key -pubout -outform DER 2>/dev/null | base64 -w0 > dkim-tlsrpt.pub.b64

# TLSA data: "good" = 3 1 1 of the MX key, "ca" = 2 0 1 of the CA certificate
[ -s mx.spki-sha256 ] && [ mx.spki-sha256 -nt mx.pem ] || spki_sha256 mx.pem > mx.spki-sha256
[ -s ca.cert-sha256 ] && [ ca.cert-sha256 -nt ca.pem ] || cert_sha256 ca.pem > ca.cert-sha256
[ -s mx.cert-sha256 ] && [ mx.cert-sha256 -nt mx.pem ] || cert_sha256 mx.pem > mx.cert-sha256
chmod 755 "$P"
chmod 644 ./*.pem ./*.san ./*sha256 ./*.b64
chmod 600 ./*.key
