/* framing.h - splitting the post-handshake byte stream into packets.
 *
 * Once the handshake is over, every distribution packet is `Len:32 | Data`
 * (big-endian), and a packet with Len = 0 is a tick. TLS hands us the
 * decrypted stream in arbitrary pieces: one read may hold many packets
 * (OTP's TLS sender bundles them, up to 16 MB per write) and one packet may
 * span many reads. en_frame_next() looks at whatever has arrived so far and
 * says whether a whole packet is there; it keeps no state, so the caller's
 * receive buffer is the only state there is.
 */
#ifndef ENODE_FRAMING_H
#define ENODE_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Bytes of the length prefix in front of every packet. */
#define EN_FRAME_HDR_LEN 4

/* Error return of en_frame_next(): the length prefix announces more than
 * max_packet bytes. */
#define EN_FRAME_ETOOBIG (-1)

/* Looks at buf[0..len) and returns
 *     0   not enough bytes yet for a whole packet (len may be 0);
 *    >0   the size of the first whole packet *including* its 4-byte
 *         header: the packet data is buf + 4, of length ret - 4, and
 *         ret == EN_FRAME_HDR_LEN means the packet is a tick;
 *    EN_FRAME_ETOOBIG  the peer announces a packet larger than max_packet
 *         data bytes. The caller drops the connection; en_get32(buf) is the
 *         announced size, for the log message.
 * The size check happens as soon as the 4-byte header is in, so a hostile
 * length is refused before anything is buffered for it. max_packet is
 * clamped so that the result always fits in a long. */
long en_frame_next(const uint8_t *buf, size_t len, size_t max_packet);

/* Appends a tick (four zero bytes). 0, or -1 when out of memory (the
 * buffer is then unchanged). */
int en_frame_put_tick(en_buf_t *out);

#endif
