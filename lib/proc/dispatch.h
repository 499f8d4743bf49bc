/* dispatch.h - a peer's packets to the modules of proc/ (private). */
#ifndef ENODE_PROC_DISPATCH_H
#define ENODE_PROC_DISPATCH_H

#include "proc/mbox.h"

/* The network layer's packet hook (ud is the en_proc_t). */
void en_dispatch_packet(void *ud, en_conn_t *c, const uint8_t *data,
                        size_t len, en_buf_t *body);

#endif
