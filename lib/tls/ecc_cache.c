/* ecc_cache.c - emptying wolfSSL's per-thread cache of elliptic-curve
 * points (see ecc_cache.h). Apart from tls.c so that tlsconf may use it
 * too. */
#include "tls/ecc_cache.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>

void en_tls_forget_ecc_points(void)
{
#if defined(FP_ECC) && defined(HAVE_ECC)
    wc_ecc_fp_free();
#endif
}
