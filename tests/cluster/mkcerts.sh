#!/bin/sh
# mkcerts.sh DIR [HOSTNAME]
#
# Writes a throwaway PKI for cluster tests into DIR:
#   ca.pem    self-signed CA certificate (ECDSA P-256)
#   ca.key    its private key
#   node.pem  node certificate signed by that CA, usable as TLS server *and*
#             client certificate (extendedKeyUsage serverAuth,clientAuth)
#   node.key  its private key, unencrypted PKCS#8 PEM (OTP's ssl reads it)
#
# Every call makes a *new* CA, so calling it twice with two directories gives
# two unrelated trust domains (for "unknown CA" tests).
#
# SANs: DNS:<hostname>, DNS:<short hostname>, DNS:localhost, IP:127.0.0.1,
# IP:::1, plus DNS:127.0.0.1 and DNS:::1 because OTP 25 checks the SNI it
# sends (the host part of the node name, even an IP literal) against dNSName
# SANs only.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 DIR [HOSTNAME]" >&2
    exit 2
fi
dir=$1
host=${2:-$(hostname -f 2>/dev/null || hostname)}
short=${host%%.*}
days=3650

mkdir -p "$dir"
cd "$dir"
umask 077

# Collect SANs, without duplicates when host and short host coincide.
san="DNS:$host"
[ "$short" != "$host" ] && san="$san,DNS:$short"
[ "$host" != localhost ] && san="$san,DNS:localhost"
san="$san,IP:127.0.0.1,IP:::1,DNS:127.0.0.1,DNS:::1"

# Random serials avoid "same issuer and serial" clashes between the two CAs
# a test might create.
serial() { openssl rand -hex 16; }

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out ca.key 2>/dev/null
openssl req -x509 -new -key ca.key -sha256 -days "$days" \
    -subj "/CN=enode test CA $(serial | cut -c1-8)" \
    -set_serial "0x$(serial)" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out ca.pem

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out node.key 2>/dev/null
openssl req -new -key node.key -subj "/CN=$host" -out node.csr

cat > node.ext <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EXT
openssl x509 -req -in node.csr -CA ca.pem -CAkey ca.key \
    -set_serial "0x$(serial)" -days "$days" -sha256 \
    -extfile node.ext -out node.pem 2>/dev/null
rm -f node.csr node.ext

# Readable by the test's own nodes; the directory itself stays private.
chmod 600 ca.key node.key
chmod 644 ca.pem node.pem
