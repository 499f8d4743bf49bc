#!/bin/sh
# mkcerts.sh DIR [HOSTNAME [CAKEY [KEY...]]]
#
# Writes a throwaway PKI for cluster tests into DIR:
#   ca.pem    self-signed CA certificate (key type CAKEY, default p256)
#   ca.key    its private key
#   node.pem  node certificate signed by that CA, usable as TLS server *and*
#             client certificate (extendedKeyUsage serverAuth,clientAuth)
#   node.key  its private key, unencrypted PKCS#8 PEM (OTP's ssl reads it)
# and, for each KEY given, node_KEY.pem and node_KEY.key: another such
# certificate, with a key of that type, signed by the same CA.
#
# Key types: rsa2048, rsa4096, p256, p384. node.pem is P-256 whatever the
# CA's type (OTP 25 to 29 accept RSA and ECDSA certificates under either
# kind of CA, in TLS 1.2 and 1.3).
#
# Every call makes a *new* CA, so calling it twice with two directories gives
# two unrelated trust domains (for "unknown CA" tests).
#
# SANs: DNS:<hostname>, DNS:<short hostname>, DNS:localhost, IP:127.0.0.1,
# IP:::1, plus DNS:127.0.0.1 and DNS:::1 because OTP 25 checks the SNI it
# sends (the host part of the node name, even an IP literal) against dNSName
# SANs only.
set -eu

if [ $# -lt 1 ]; then
    echo "usage: $0 DIR [HOSTNAME [CAKEY [KEY...]]]" >&2
    exit 2
fi
dir=$1
host=${2:-$(hostname -f 2>/dev/null || hostname)}
cakey=${3:-p256}
[ $# -ge 3 ] && shift 3 || shift $#
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

# genkey TYPE FILE
genkey() {
    case $1 in
        rsa2048|rsa4096)
            opt="-algorithm RSA -pkeyopt rsa_keygen_bits:${1#rsa}" ;;
        p256|p384)
            opt="-algorithm EC -pkeyopt ec_paramgen_curve:P-${1#p}" ;;
        *)
            echo "$0: unknown key type $1 (rsa2048, rsa4096, p256, p384)" >&2
            exit 2 ;;
    esac
    # shellcheck disable=SC2086
    openssl genpkey $opt -out "$2" 2>/dev/null
}

genkey "$cakey" ca.key
openssl req -x509 -new -key ca.key -sha256 -days "$days" \
    -subj "/CN=enode test CA $(serial | cut -c1-8)" \
    -set_serial "0x$(serial)" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out ca.pem

# leaf NAME TYPE: NAME.pem with NAME.key (made by genkey), signed by the CA
leaf() {
    openssl req -new -key "$1.key" -subj "/CN=$host/OU=$2" -out "$1.csr"
    case $2 in
        rsa*) usage=digitalSignature,keyEncipherment ;;
        *) usage=digitalSignature,keyAgreement ;;
    esac
    cat > "$1.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,$usage
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EXT
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key \
        -set_serial "0x$(serial)" -days "$days" -sha256 \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
    # Readable by the test's own nodes; the directory itself stays private.
    chmod 600 "$1.key"
    chmod 644 "$1.pem"
}

# RSA-4096 keys take seconds: make the leaves' keys side by side.
genkey p256 node.key &
for key in "$@"; do
    genkey "$key" "node_$key.key" &
done
wait
leaf node p256
for key in "$@"; do
    leaf "node_$key" "$key"
done
chmod 600 ca.key
chmod 644 ca.pem
