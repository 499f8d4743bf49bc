/* ecc_cache.h - wolfSSL's per-thread cache of elliptic-curve points. */
#ifndef ENODE_ECC_CACHE_H
#define ENODE_ECC_CACHE_H

/* Frees the calling thread's cache of elliptic-curve points (wolfSSL built
 * with FP_ECC, as Debian's is). wolfSSL adds every point it multiplies to
 * that cache, with a table of 256 points (about 800 KiB at SP_INT_BITS
 * 4096) for each, up to 15 per thread. Most are peers' ephemeral keys,
 * never seen again; the one that counts is the curve's generator, whose
 * table makes our own key operations several times faster, so the cache
 * is emptied only once handshakes stop for a while (net/loop.c), not
 * after each. A no-op without FP_ECC. */
void en_tls_forget_ecc_points(void);

#endif
