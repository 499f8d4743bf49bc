#!/bin/sh
# badcerts.sh DIR [HOSTNAME]
#
# Next to the PKI mkcerts.sh wrote in DIR (ca.pem, ca.key), writes
# certificates for the TLS failure and interop tests, each with its key
# (<name>.pem, <name>.key), all signed by that CA:
#   expired     valid 2020-01-01 .. 2021-01-01
#   future      valid from 2040-01-01
#   revoked     listed in the CRL below
#   wronghost   SANs for wrong.invalid only
#   second      a second good certificate (for pinning tests)
#   rsa         an RSA-2048 key, signed by rsa_ca.pem (RSA-2048 too);
#               cas.pem holds both CAs
#   enc         node.key's twin encrypted with the password "secret"
#               (PKCS#8, AES-256): enc.pem and enc.key
# and crl/<hash>.r0, the CA's CRL revoking `revoked`, named as
# `openssl rehash` names it (for crl_cache ssl_crl_hash_dir).
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 DIR [HOSTNAME]" >&2
    exit 2
fi
dir=$1
host=${2:-$(hostname -f 2>/dev/null || hostname)}
short=${host%%.*}
cd "$dir"
umask 077

san="DNS:$host"
[ "$short" != "$host" ] && san="$san,DNS:$short"
[ "$host" != localhost ] && san="$san,DNS:localhost"
san="$san,IP:127.0.0.1,IP:::1,DNS:127.0.0.1,DNS:::1"

mkdir -p ca.db crl
: > ca.db/index.txt
echo 1000 > ca.db/serial
echo 01 > ca.db/crlnumber
cat > ca.db/ca.cnf <<CNF
[ca]
default_ca = d
[d]
database = ca.db/index.txt
serial = ca.db/serial
crlnumber = ca.db/crlnumber
new_certs_dir = ca.db
default_md = sha256
default_crl_days = 3650
unique_subject = no
policy = p
copy_extensions = none
[p]
commonName = supplied
CNF

ext() {
    cat > ca.db/$1.ext <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyAgreement,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$2
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EXT
}

# cert NAME KEYALG SAN [openssl ca date options...]
cert() {
    name=$1 alg=$2 names=$3
    shift 3
    if [ "$alg" = rsa ]; then
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
            -out "$name.key" 2>/dev/null
    else
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
            -out "$name.key" 2>/dev/null
    fi
    openssl req -new -key "$name.key" -subj "/CN=$host/OU=$name" \
        -out "ca.db/$name.csr"
    ext "$name" "$names"
    openssl ca -batch -config ca.db/ca.cnf -cert ca.pem -keyfile ca.key \
        -in "ca.db/$name.csr" -extfile "ca.db/$name.ext" -notext \
        -out "$name.pem" "$@" 2>/dev/null
}

cert expired ec "$san" -startdate 20200101000000Z -enddate 20210101000000Z
cert future ec "$san" -startdate 20400101000000Z -enddate 20410101000000Z
cert revoked ec "$san" -days 3650
cert wronghost ec "DNS:wrong.invalid" -days 3650
cert second ec "$san" -days 3650
# RSA-2048 all the way: a CA of its own (OTP picks ECDHE-RSA suites only
# for an RSA certificate that an RSA key signed), and cas.pem trusting both.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out rsa_ca.key 2>/dev/null
openssl req -x509 -new -key rsa_ca.key -sha256 -days 3650 \
    -subj "/CN=enode test RSA CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out rsa_ca.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out rsa.key 2>/dev/null
openssl req -new -key rsa.key -subj "/CN=$host" -out ca.db/rsa.csr
ext rsa "$san"
openssl x509 -req -in ca.db/rsa.csr -CA rsa_ca.pem -CAkey rsa_ca.key \
    -set_serial 4242 -days 3650 -sha256 -extfile ca.db/rsa.ext \
    -out rsa.pem 2>/dev/null
cat ca.pem rsa_ca.pem > cas.pem
cp node.pem enc.pem
openssl pkey -in node.key -aes256 -passout pass:secret -out enc.key

openssl ca -config ca.db/ca.cnf -cert ca.pem -keyfile ca.key \
    -revoke revoked.pem 2>/dev/null
openssl ca -config ca.db/ca.cnf -cert ca.pem -keyfile ca.key -gencrl \
    -out ca.db/crl.pem 2>/dev/null
cp ca.db/crl.pem "crl/$(openssl crl -hash -noout -in ca.db/crl.pem).r0"

chmod 600 ./*.key
chmod 644 ./*.pem crl/*
