/* error.c - error codes in words. */
#include "enode.h"

const char *enode_strerror(int code)
{
    switch (code) {
    case ENODE_OK: return "success";
    case ENODE_EINVAL: return "invalid argument or configuration";
    case ENODE_ENOMEM: return "out of memory";
    case ENODE_ESYS: return "system call failed";
    case ENODE_EEPMD: return "EPMD unreachable or refused";
    case ENODE_ENAMETAKEN: return "node name already registered with EPMD";
    case ENODE_ETLS: return "TLS failure";
    case ENODE_EHANDSHAKE: return "distribution handshake failed";
    case ENODE_ECOOKIE: return "cookie mismatch";
    case ENODE_ENOTFOUND: return "not found";
    case ENODE_ETIMEOUT: return "timed out";
    case ENODE_ECLOSED: return "closed";
    case ENODE_EBADTERM: return "bad term";
    case ENODE_EEXIST: return "name in use";
    case ENODE_ECONN: return "connection failed or lost";
    case ENODE_ERAISED: return "the function called raised an exception";
    case ENODE_EBUSY: return "the connection is busy: run the loop and retry";
    default: return "unknown error";
    }
}
