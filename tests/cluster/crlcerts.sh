#!/bin/sh
# crlcerts.sh DIR HOSTNAME URL DEADURL
#
# A CA of its own in DIR (ca.pem, ca.key) whose certificates carry a CRL
# distribution point, for the tests of crl_cache ssl_crl_cache (CRLs over
# HTTP).  URL is where a test's HTTP server serves DIR (crlserver.py);
# DEADURL a port where nothing listens.  Each certificate (<name>.pem,
# <name>.key) names in its distribution point:
#   good      URL/ca.crl
#   revoked   URL/ca.crl, which revokes it
#   slow      URL/slow/ca.crl, which the server answers late
#   missing   URL/missing.crl, which is not there (404)
#   garbage   URL/garbage.crl, which is not a CRL
#   badsig    URL/badsig.crl, a CRL with the CA's name and another key's
#             signature
#   dead      DEADURL/ca.crl
#   nocdp     no distribution point at all
#   chain     URL/sub.crl, signed by subca (URL/ca.crl, which revokes it);
#             chain.pem holds the certificate, then subca's
set -eu

if [ $# -ne 4 ]; then
    echo "usage: $0 DIR HOSTNAME URL DEADURL" >&2
    exit 2
fi
dir=$1 host=$2 url=$3 dead=$4
short=${host%%.*}
mkdir -p "$dir/db"
cd "$dir"
umask 077

san="DNS:$host"
[ "$short" != "$host" ] && san="$san,DNS:$short"
[ "$host" != localhost ] && san="$san,DNS:localhost"
san="$san,IP:127.0.0.1,IP:::1,DNS:127.0.0.1,DNS:::1"

# cadb NAME: an `openssl ca` database and configuration, db/NAME.cnf
cadb() {
    : > "db/$1.index"
    echo 1000 > "db/$1.serial"
    echo 01 > "db/$1.crlnumber"
    cat > "db/$1.cnf" <<CNF
[ca]
default_ca = d
[d]
database = db/$1.index
serial = db/$1.serial
crlnumber = db/$1.crlnumber
new_certs_dir = db
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
cadb imposter
cadb sub

subject="/CN=enode test HTTP CRL CA $(openssl rand -hex 4)"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
key ca.key
openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "$subject" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" -out ca.pem
# the same name, another key: its CRLs do not verify against ca.pem
key imposter.key
openssl req -x509 -new -key imposter.key -sha256 -days 3650 -subj "$subject" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out db/imposter.pem

# cert NAME CDP-URL ("" for none), signed by the CA (ISSUER=sub: subca)
cert() {
    key "$1.key"
    openssl req -new -key "$1.key" -subj "/CN=$host/OU=$1" -out "db/$1.csr"
    cat > "db/$1.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EXT
    [ -n "$2" ] && echo "crlDistributionPoints=URI:$2" >> "db/$1.ext"
    if [ "${ISSUER:-ca}" = sub ]; then
        openssl ca -batch -config db/sub.cnf -cert subca.pem \
            -keyfile subca.key -in "db/$1.csr" -extfile "db/$1.ext" -notext \
            -days 3650 -out "$1.pem" 2>/dev/null
    else
        openssl ca -batch -config db/ca.cnf -cert ca.pem -keyfile ca.key \
            -in "db/$1.csr" -extfile "db/$1.ext" -notext -days 3650 \
            -out "$1.pem" 2>/dev/null
    fi
}
cert good "$url/ca.crl"
cert revoked "$url/ca.crl"
cert slow "$url/slow/ca.crl"
cert missing "$url/missing.crl"
cert garbage "$url/garbage.crl"
cert badsig "$url/badsig.crl"
cert dead "$dead/ca.crl"
cert nocdp ""

# the intermediate CA, revoked by the CA, and a certificate it signs
key subca.key
openssl req -new -key subca.key -subj "/CN=enode test HTTP sub CA" \
    -out db/subca.csr
cat > db/subca.ext <<EXT
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
crlDistributionPoints=URI:$url/ca.crl
EXT
openssl ca -batch -config db/ca.cnf -cert ca.pem -keyfile ca.key \
    -in db/subca.csr -extfile db/subca.ext -notext -days 3650 \
    -out subca.pem 2>/dev/null
ISSUER=sub cert chainleaf "$url/sub.crl"
cat chainleaf.pem subca.pem > chain.pem
cp chainleaf.key chain.key
openssl ca -config db/sub.cnf -cert subca.pem -keyfile subca.key -gencrl \
    -out db/sub.crl.pem 2>/dev/null
openssl crl -in db/sub.crl.pem -outform DER -out sub.crl

openssl ca -config db/ca.cnf -cert ca.pem -keyfile ca.key \
    -revoke subca.pem 2>/dev/null
openssl ca -config db/ca.cnf -cert ca.pem -keyfile ca.key \
    -revoke revoked.pem 2>/dev/null
openssl ca -config db/ca.cnf -cert ca.pem -keyfile ca.key -gencrl \
    -out db/ca.crl.pem 2>/dev/null
openssl crl -in db/ca.crl.pem -outform DER -out ca.crl
openssl ca -config db/imposter.cnf -cert db/imposter.pem \
    -keyfile imposter.key -gencrl -out badsig.crl 2>/dev/null
printf '<html><body>this is no CRL</body></html>\n' > garbage.crl

chmod 600 ./*.key
chmod 644 ./*.pem ./*.crl
chmod 755 .
