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
#   chain       signed by subca, an intermediate CA that the CA signed;
#               chain.pem holds the certificate, then subca's;
#               chaincas.pem holds the CA and subca
#   big         like chain, with 100 more DNS SANs: over 3 KiB of DER,
#               more than wolfSSL keeps of a certificate in a session
#               (MAX_X509_SIZE, 2 KiB)
# and CRL directories for crl_cache ssl_crl_hash_dir, each CRL named as
# `openssl rehash` names it (<hash>.r0):
#   crl/        the CA's CRL, revoking `revoked`
#   crlint/     the CA's CRL revoking `revoked` and subca, and subca's
#               (empty) CRL
#   crlsub/     subca's CRL only: the CA has none
# and crl_second.pem, the CA's CRL revoking `revoked`, subca and `second`.
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

mkdir -p ca.db crl crlint crlsub

# cadb NAME: an `openssl ca` database and configuration, ca.db/NAME.cnf
cadb() {
    : > "ca.db/$1.index"
    echo 1000 > "ca.db/$1.serial"
    echo 01 > "ca.db/$1.crlnumber"
    cat > "ca.db/$1.cnf" <<CNF
[ca]
default_ca = d
[d]
database = ca.db/$1.index
serial = ca.db/$1.serial
crlnumber = ca.db/$1.crlnumber
new_certs_dir = ca.db
default_md = sha256
default_crl_days = 3650
unique_subject = no
policy = p
copy_extensions = none
[p]
commonName = supplied
CNF
}
cadb ca
cadb sub

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

# cert NAME KEYALG SAN [openssl ca date options...], signed by the CA
# (or, with ISSUER=sub, by subca)
cert() {
    name=$1 alg=$2 names=$3 issuer=${ISSUER:-ca}
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
    signer=ca
    [ "$issuer" = sub ] && signer=subca
    openssl ca -batch -config "ca.db/$issuer.cnf" -cert "$signer.pem" \
        -keyfile "$signer.key" -in "ca.db/$name.csr" \
        -extfile "ca.db/$name.ext" -notext -out "$name.pem" "$@" 2>/dev/null
}

# crl ISSUER DIR|FILE: the issuer's CRL now, into DIR as <hash>.r0 or FILE
crl() {
    signer=ca
    [ "$1" = sub ] && signer=subca
    openssl ca -config "ca.db/$1.cnf" -cert "$signer.pem" \
        -keyfile "$signer.key" -gencrl -out ca.db/crl.pem 2>/dev/null
    if [ -d "$2" ]; then
        cp ca.db/crl.pem "$2/$(openssl crl -hash -noout -in ca.db/crl.pem).r0"
    else
        cp ca.db/crl.pem "$2"
    fi
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

# The intermediate CA, and a certificate it signs.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out subca.key 2>/dev/null
openssl req -new -key subca.key -subj "/CN=enode test sub CA" \
    -out ca.db/subca.csr
cat > ca.db/subca.ext <<EXT
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EXT
openssl ca -batch -config ca.db/ca.cnf -cert ca.pem -keyfile ca.key \
    -in ca.db/subca.csr -extfile ca.db/subca.ext -notext -days 3650 \
    -out subca.pem 2>/dev/null
ISSUER=sub cert chainleaf ec "$san" -days 3650
cat chainleaf.pem subca.pem > chain.pem
cp chainleaf.key chain.key
many=$san
for i in $(seq 1 100); do many="$many,DNS:name-$i.enode-test.invalid"; done
ISSUER=sub cert bigleaf ec "$many" -days 3650
cat bigleaf.pem subca.pem > big.pem
cp bigleaf.key big.key
# OTP sends the intermediate CAs it finds in its cacertfile
cat ca.pem subca.pem > chaincas.pem

revoke() {
    openssl ca -config ca.db/ca.cnf -cert ca.pem -keyfile ca.key \
        -revoke "$1" 2>/dev/null
}
revoke revoked.pem
crl ca crl
crl sub crlint
crl sub crlsub
revoke subca.pem
crl ca crlint
revoke second.pem
crl ca crl_second.pem

chmod 600 ./*.key
chmod 644 ./*.pem crl/* crlint/* crlsub/*
