#!/bin/sh
# make-test-pki.sh DIR - make a throw-away PKI for trying Warden's TLS and
# for its tests, with the openssl command-line tool. Never use it in
# production: the keys are unencrypted and the CA is whoever runs this.
#
# DIR/ca.pem ca.key                  test CA (ECDSA P-256), "Warden Test CA"
# DIR/server.pem server.key          server cert: localhost, 127.0.0.1, ::1
# DIR/server2.pem server2.key        a second server cert (O=Warden Reloaded), for reload tests
# DIR/client.pem client.key          CN client1 (ECDSA P-256), SANs DNS:client1.example,
#                                    URI:urn:warden:client1, email:client1@example.com
# DIR/client-rsa.pem .key            CN client1-rsa (RSA 2048)
# DIR/client-ed25519.pem .key        CN client1-ed25519 (Ed25519)
# DIR/client-nosan.pem .key          CN client-nosan, no SAN at all
# DIR/expired.pem expired.key        CN expired1, valid 2020-01-01..2020-01-02
# DIR/revoked.pem revoked.key        CN revoked1, listed in crl.pem
# DIR/crl.pem crl.der                CRL revoking revoked.pem (valid 30 days)
# DIR/crl-empty.pem                  CRL revoking nothing
# DIR/crl-expired.pem                CRL revoking revoked.pem, nextUpdate in 2020
# DIR/other-ca.pem other-ca.key      an unrelated CA
# DIR/other-client.pem .key          CN client1 signed by the unrelated CA
# DIR/capath/                        ca.pem under its OpenSSL subject hash (for capath)
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
D=$1
mkdir -p "$D"
cd "$D"
umask 077

ossl() {
    # Quiet unless it fails.
    msg=$(openssl "$@" 2>&1) || { echo "openssl $*: $msg" >&2; exit 1; }
}

ec_key() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

# A minimal `openssl ca` setup: it alone can set arbitrary validity dates
# (expired certificates, expired CRLs).
mkdir -p ca-db
: >ca-db/index.txt
echo 1000 >ca-db/serial
echo 1000 >ca-db/crlnumber
cat >ca-db/ca.cnf <<'EOF'
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = ca-db
database = $dir/index.txt
serial = $dir/serial
crlnumber = $dir/crlnumber
new_certs_dir = $dir
certificate = ca.pem
private_key = ca.key
default_md = sha256
default_days = 3650
default_crl_days = 30
policy = any
unique_subject = no
copy_extensions = none
[ any ]
organizationName = optional
commonName = supplied
[ client_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
EOF

# CA
ec_key ca.key
ossl req -new -x509 -key ca.key -out ca.pem -days 3650 -sha256 \
    -subj "/O=Warden Test/CN=Warden Test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"

# sign KEY CSR-SUBJECT OUT EXTFILE-LINES...: a certificate signed by the CA.
sign() {
    key=$1 subj=$2 out=$3 ext=$4 ca=${5:-ca}
    printf '%s\n' "$ext" >"$out.ext"
    ossl req -new -key "$key" -subj "$subj" -out "$out.csr"
    ossl x509 -req -in "$out.csr" -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial \
        -out "$out" -days 3650 -sha256 -extfile "$out.ext"
    rm -f "$out.csr" "$out.ext"
}

CLIENT_EXT="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"

# Server certificates
for s in server server2; do
    ec_key $s.key
    org="Warden Test"
    [ $s = server2 ] && org="Warden Reloaded"
    sign $s.key "/O=$org/CN=localhost" $s.pem "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"
done

# Client certificates
ec_key client.key
sign client.key "/O=Warden Test/CN=client1" client.pem "$CLIENT_EXT
subjectAltName=DNS:client1.example,URI:urn:warden:client1,email:client1@example.com"

ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out client-rsa.key
sign client-rsa.key "/O=Warden Test/CN=client1-rsa" client-rsa.pem "$CLIENT_EXT
subjectAltName=DNS:client1-rsa.example"

ossl genpkey -algorithm ED25519 -out client-ed25519.key
sign client-ed25519.key "/O=Warden Test/CN=client1-ed25519" client-ed25519.pem "$CLIENT_EXT
subjectAltName=DNS:client1-ed25519.example,URI:urn:warden:client1-ed25519"

ec_key client-nosan.key
sign client-nosan.key "/O=Warden Test/CN=client-nosan" client-nosan.pem "$CLIENT_EXT"

# Expired and revoked clients, through `openssl ca` (dates, CRL database).
ec_key expired.key
ossl req -new -key expired.key -subj "/O=Warden Test/CN=expired1" -out expired.csr
ossl ca -batch -config ca-db/ca.cnf -extensions client_ext -in expired.csr -out expired.pem \
    -startdate 20200101000000Z -enddate 20200102000000Z -notext
ec_key revoked.key
ossl req -new -key revoked.key -subj "/O=Warden Test/CN=revoked1" -out revoked.csr
ossl ca -batch -config ca-db/ca.cnf -extensions client_ext -in revoked.csr -out revoked.pem \
    -notext
rm -f expired.csr revoked.csr

ossl ca -batch -config ca-db/ca.cnf -gencrl -out crl-empty.pem
ossl ca -batch -config ca-db/ca.cnf -revoke revoked.pem -crl_reason keyCompromise
ossl ca -batch -config ca-db/ca.cnf -gencrl -out crl.pem
ossl crl -in crl.pem -outform DER -out crl.der
ossl ca -batch -config ca-db/ca.cnf -gencrl -out crl-expired.pem \
    -crl_lastupdate 20200101000000Z -crl_nextupdate 20200201000000Z

# An unrelated CA and a client it signed, with the same CN as client.pem.
ec_key other-ca.key
ossl req -new -x509 -key other-ca.key -out other-ca.pem -days 3650 -sha256 \
    -subj "/O=Somebody Else/CN=Other CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
ec_key other-client.key
sign other-client.key "/O=Somebody Else/CN=client1" other-client.pem "$CLIENT_EXT" other-ca

# capath: the CA under its subject hash, as OpenSSL's c_rehash names it.
mkdir -p capath
cp ca.pem "capath/$(openssl x509 -in ca.pem -noout -subject_hash).0"

rm -f ./*.srl
chmod 600 ./*.key
chmod 644 ./*.pem crl.der
echo "test PKI in $PWD"
