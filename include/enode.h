/* enode.h - join an Erlang/OTP cluster as a full distribution node.
 *
 * enode speaks the Erlang distribution protocol over TLS (wire-compatible
 * with OTP's inet_tls_dist) or plain TCP (inet_tcp_dist). Terms are ei's
 * (erl_interface) types: build messages with ei_x_encode_*, read them with
 * ei_decode_*.
 *
 * Copyright (C) 2026 the enode authors. GPL-3.0-or-later.
 */
#ifndef ENODE_H
#define ENODE_H

#ifdef __cplusplus
extern "C" {
#endif

/* The package version, e.g. "0.1.0". A static string; never freed. */
const char *enode_version(void);

#ifdef __cplusplus
}
#endif

#endif /* ENODE_H */
