/* names.h - node names as erl forms them, and the cookie. */
#ifndef ENODE_NAMES_H
#define ENODE_NAMES_H

#include <stddef.h>

/* The longest node name we accept, alive@host, like OTP's 255 atom chars. */
#define EN_NODE_NAME_MAX 255
/* Room for a node name as it travels, an atom of up to 255 characters of
 * up to four bytes each, and its NUL. */
#define EN_NODE_NAME_BUF 1024

/* Whether name ("alive" or "alive@host") is a node name as erl takes it,
 * without asking the system for the host: 0, or -1 with a sentence in
 * err. */
int en_node_name_check(const char *name, char *err, size_t errlen);

/* Build the full node name from `name` ("alive" or "alive@host") as
 * -sname (long = 0) or -name (long = 1) would: a missing host becomes the
 * short host name, or for long names the fully qualified one. Writes
 * "alive@host" into full. 0, or -1 with a sentence in err. */
int en_node_full_name(const char *name, int long_names, char *full,
                      size_t fulllen, char *err, size_t errlen);

/* An atom holds at most 255 characters, and node and registered names
 * are atoms. */
#define EN_ATOM_CHARS_MAX 255

/* 1 if s (UTF-8) is too long for an atom: more than 255 characters, or
 * more bytes than enode keeps for one. Then err (if not NULL) gets
 * "WHAT 's...' is too long: N characters, and an atom holds at most
 * 255". */
int en_name_too_long(const char *what, const char *s, char *err,
                     size_t errlen);

/* Split "alive@host" at the '@'. 0, or -1 if it is not a node name. */
int en_node_split(const char *node, char *alive, size_t alivelen, char *host,
                  size_t hostlen);

/* Read the cookie from $HOME/.erlang.cookie, as erl does (trailing
 * whitespace dropped). 0, or -1 with a sentence in err. */
int en_cookie_from_home(char *cookie, size_t len, char *err, size_t errlen);

#endif
