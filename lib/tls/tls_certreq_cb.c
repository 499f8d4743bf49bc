/* tls_certreq_cb.c - wolfSSL's callbacks for a widened certificate request
 * (see tls_certreq.h): the client's CertificateVerify and both Finished
 * messages, against the transcript the client has.
 *
 * Set on a server context, the verify callbacks see every peer signature
 * that context checks: certificate chains, TLS 1.3 CertificateVerify, and
 * TLS 1.2 ones that no widened request asked for. Those they check exactly
 * as wolfSSL does (its own code runs only when no callback is set). Only a
 * CertificateVerify that verifies against the client's transcript, with
 * the key of the client's certificate, is then shown to wolfSSL as the
 * value it expects for its own transcript.
 */
#include "tls/tls_certreq.h"

#include <string.h>

#if EN_CERTREQ

#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/kdf.h>
#include <wolfssl/wolfcrypt/rsa.h>

/* The hash of a TLS 1.2 SignatureAndHashAlgorithm, or of an RSA-PSS
 * scheme. */
static enum wc_HashType scheme_hash(int scheme)
{
    switch (scheme) {
    case 0x0804: /* rsa_pss_rsae_sha256 */
    case 0x0809: /* rsa_pss_pss_sha256 */
        return WC_HASH_TYPE_SHA256;
    case 0x0805:
    case 0x080a:
        return WC_HASH_TYPE_SHA384;
    case 0x0806:
    case 0x080b:
        return WC_HASH_TYPE_SHA512;
    }
    switch (scheme >> 8) {
    case 2:
        return WC_HASH_TYPE_SHA;
    case 3:
        return WC_HASH_TYPE_SHA224;
    case 4:
        return WC_HASH_TYPE_SHA256;
    case 5:
        return WC_HASH_TYPE_SHA384;
    case 6:
        return WC_HASH_TYPE_SHA512;
    default:
        return WC_HASH_TYPE_NONE;
    }
}

static int is_pss(int scheme)
{
    return scheme >> 8 == 8;
}

/* The hash of the client's CertificateVerify (of size *size), or
 * WC_HASH_TYPE_NONE when there is none to look at. */
static enum wc_HashType cv_hash(const struct en_certreq *cr, int *scheme,
                                int *size)
{
    *scheme = en_certreq_cv_scheme(cr);
    enum wc_HashType type =
        *scheme < 0 ? WC_HASH_TYPE_NONE : scheme_hash(*scheme);
    *size = type == WC_HASH_TYPE_NONE ? 0 : wc_HashGetDigestSize(type);
    return *size > 0 ? type : WC_HASH_TYPE_NONE;
}

/* ---- ECDSA --------------------------------------------------------------- */

#ifdef HAVE_ECC
/* wolfSSL checks the client's CertificateVerify with the hash of its own
 * transcript: is `hash` that? Then *client gets the client's. */
static int ecdsa_cv(const struct en_certreq *cr, const uint8_t *hash,
                    unsigned hash_len, uint8_t *client)
{
    uint8_t server[WC_MAX_DIGEST_SIZE];
    int scheme, size;
    enum wc_HashType type = cv_hash(cr, &scheme, &size);
    return type != WC_HASH_TYPE_NONE && (scheme & 0xff) == 3 &&
           (unsigned)size == hash_len &&
           en_certreq_hash_to_cv(cr, EN_CR_SERVER, type, server) == 0 &&
           memcmp(server, hash, hash_len) == 0 &&
           en_certreq_hash_to_cv(cr, EN_CR_CLIENT, type, client) == 0;
}

static int ecc_verify(WOLFSSL *ssl, const unsigned char *sig,
                      unsigned int sig_len, const unsigned char *hash,
                      unsigned int hash_len, const unsigned char *key_der,
                      unsigned int key_len, int *result, void *ctx)
{
    uint8_t client[WC_MAX_DIGEST_SIZE];
    ecc_key key;
    word32 idx = 0;
    (void)ssl;

    *result = 0;
    if (ecdsa_cv(ctx, hash, hash_len, client))
        hash = client;
    int rc = wc_ecc_init(&key);
    if (rc != 0)
        return rc;
    rc = wc_EccPublicKeyDecode(key_der, &idx, &key, key_len);
    if (rc == 0)
        rc = wc_ecc_verify_hash(sig, sig_len, hash, hash_len, result, &key);
    wc_ecc_free(&key);
    return rc;
}
#endif

/* ---- RSA ----------------------------------------------------------------- */

#ifndef NO_RSA
/* PKCS #1 v1.5: out[0..len) is the DigestInfo the signature holds. If it
 * is that of the client's transcript, make it that of wolfSSL's. */
static void retarget_pkcs1(const struct en_certreq *cr, uint8_t *out, int len)
{
    uint8_t hash[WC_MAX_DIGEST_SIZE], info[MAX_ENCODED_SIG_SZ];
    int scheme, size;
    enum wc_HashType type = cv_hash(cr, &scheme, &size);
    if (type == WC_HASH_TYPE_NONE || (scheme & 0xff) != 1 || is_pss(scheme))
        return;
    int oid = wc_HashGetOID(type);
    if (en_certreq_hash_to_cv(cr, EN_CR_CLIENT, type, hash) < 0 ||
        (int)wc_EncodeSignature(info, hash, (word32)size, oid) != len ||
        memcmp(info, out, (size_t)len) != 0)
        return;
    if (en_certreq_hash_to_cv(cr, EN_CR_SERVER, type, hash) == 0 &&
        (int)wc_EncodeSignature(info, hash, (word32)size, oid) == len)
        memcpy(out, info, (size_t)len);
}

/* Decode the public key, or -1. */
static int rsa_key(RsaKey *key, const unsigned char *der, unsigned int len)
{
    word32 idx = 0;
    if (wc_InitRsaKey(key, NULL) != 0)
        return -1;
    if (wc_RsaPublicKeyDecode(der, &idx, key, len) == 0)
        return 0;
    wc_FreeRsaKey(key);
    return -1;
}

static int rsa_verify(WOLFSSL *ssl, unsigned char *sig, unsigned int sig_len,
                      unsigned char **out, const unsigned char *key_der,
                      unsigned int key_len, void *ctx)
{
    RsaKey key;
    (void)ssl;

    if (rsa_key(&key, key_der, key_len) < 0)
        return ASN_PARSE_E;
    int len = wc_RsaSSL_VerifyInline(sig, sig_len, out, &key);
    wc_FreeRsaKey(&key);
    if (len > 0)
        retarget_pkcs1(ctx, *out, len);
    return len;
}

#ifdef WC_RSA_PSS
/* RSA-PSS: out[0..len) is salt || H, H the hash of (8 zero bytes, message
 * hash, salt). If it checks out for the client's transcript, make H that
 * for wolfSSL's, with the same salt. */
static void retarget_pss(const struct en_certreq *cr, uint8_t *out, int len,
                         enum wc_HashType type, int bits)
{
    uint8_t hash[WC_MAX_DIGEST_SIZE];
    uint8_t m[8 + 2 * WC_MAX_DIGEST_SIZE];
    int scheme, size;
    if (cv_hash(cr, &scheme, &size) != type || !is_pss(scheme) || len < size ||
        len - size > WC_MAX_DIGEST_SIZE)
        return;
    if (en_certreq_hash_to_cv(cr, EN_CR_CLIENT, type, hash) < 0 ||
        wc_RsaPSS_CheckPadding_ex(hash, (word32)size, out, (word32)len, type,
                                  RSA_PSS_SALT_LEN_DEFAULT, bits) != 0 ||
        en_certreq_hash_to_cv(cr, EN_CR_SERVER, type, hash) < 0)
        return;
    size_t salt = (size_t)(len - size);
    memset(m, 0, 8);
    memcpy(m + 8, hash, (size_t)size);
    memcpy(m + 8 + size, out, salt);
    wc_Hash(type, m, (word32)(8 + (size_t)size + salt), out + salt,
            (word32)size);
}

static int rsa_pss_verify(WOLFSSL *ssl, unsigned char *sig,
                          unsigned int sig_len, unsigned char **out, int hash,
                          int mgf, const unsigned char *key_der,
                          unsigned int key_len, void *ctx)
{
    enum wc_HashType type = wc_OidGetHash(hash);
    RsaKey key;
    (void)ssl;

    if (rsa_key(&key, key_der, key_len) < 0)
        return ASN_PARSE_E;
    int bits = wc_RsaEncryptSize(&key) * 8;
    int len = wc_RsaPSS_VerifyInline(sig, sig_len, out, type, mgf, &key);
    wc_FreeRsaKey(&key);
    if (len > 0)
        retarget_pss(ctx, *out, len, type, bits);
    return len;
}
#endif
#endif

/* ---- Finished ------------------------------------------------------------ */

static int finished(WOLFSSL *ssl, const byte *side, const byte *handshake_hash,
                    word32 hash_len, byte *verify_data, void *ctx)
{
    struct en_certreq *cr = ctx;
    uint8_t hash[WC_MAX_DIGEST_SIZE];
    unsigned char *ms, *sr, *cr_random;
    unsigned int ms_len, sr_len, cr_len;
    (void)handshake_hash;

    if (!en_certreq_widened(cr))
        return PROTOCOLCB_UNAVAILABLE;
    int client = memcmp(side, "client finished", 15) == 0;
    enum wc_HashType type =
        hash_len == 48 ? WC_HASH_TYPE_SHA384 : WC_HASH_TYPE_SHA256;
    if ((client && !en_certreq_client_done(cr)) ||
        (hash_len != 32 && hash_len != 48) ||
        en_certreq_hash_all(cr, type, hash) < 0 ||
        wolfSSL_get_keys(ssl, &ms, &ms_len, &sr, &sr_len, &cr_random,
                         &cr_len) != WOLFSSL_SUCCESS ||
        wc_PRF_TLS(verify_data, 12, ms, ms_len, side, 15, hash, hash_len, 1,
                   hash_len == 48 ? sha384_mac : sha256_mac, NULL,
                   INVALID_DEVID) != 0)
        return BUILD_MSG_ERROR;
    if (client)
        return en_certreq_add_client_finished(cr, verify_data) < 0 ? MEMORY_E
                                                                   : 0;
    en_certreq_finish(cr);
    return 0;
}

void en_certreq_ctx_init(WOLFSSL_CTX *ctx)
{
#ifdef HAVE_ECC
    wolfSSL_CTX_SetEccVerifyCb(ctx, ecc_verify);
#endif
#ifndef NO_RSA
    wolfSSL_CTX_SetRsaVerifyCb(ctx, rsa_verify);
#ifdef WC_RSA_PSS
    wolfSSL_CTX_SetRsaPssVerifyCb(ctx, rsa_pss_verify);
#endif
#endif
    wolfSSL_CTX_SetTlsFinishedCb(ctx, finished);
}

#else

void en_certreq_ctx_init(WOLFSSL_CTX *ctx)
{
    (void)ctx;
}

#endif
