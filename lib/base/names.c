/* names.c - node names as erl forms them, and the cookie file. */
#include "base/names.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int en_node_split(const char *node, char *alive, size_t alivelen, char *host,
                  size_t hostlen)
{
    const char *at = strchr(node, '@');
    size_t alen;

    if (!at || at == node || !at[1])
        return -1;
    alen = (size_t)(at - node);
    if (alen >= alivelen || strlen(at + 1) >= hostlen)
        return -1;
    memcpy(alive, node, alen);
    alive[alen] = '\0';
    strcpy(host, at + 1);
    return 0;
}

int en_name_too_long(const char *what, const char *s, char *err,
                     size_t errlen)
{
    size_t chars = 0, bytes = strlen(s);
    for (const char *p = s; *p; p++)
        chars += ((unsigned char)*p & 0xC0) != 0x80; /* not a continuation */
    /* 4 bytes a character at most: what ei's atom buffers take */
    if (chars <= EN_ATOM_CHARS_MAX && bytes < 4 * EN_ATOM_CHARS_MAX + 1)
        return 0;
    if (err)
        snprintf(err, errlen,
                 "%s '%.40s...' is too long: %zu characters, and an atom "
                 "holds at most %d",
                 what, s, chars, EN_ATOM_CHARS_MAX);
    return 1;
}

/* An alive part is what erl allows: letters, digits, '_' and '-'. */
static int valid_alive(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return 0;
    return 1;
}

/* The fully qualified name of this host, as -name needs it. */
static int fqdn(const char *hostname, char *out, size_t len)
{
    struct addrinfo hints, *res = NULL;

    memset(&hints, 0, sizeof hints);
    hints.ai_flags = AI_CANONNAME;
    if (getaddrinfo(hostname, NULL, &hints, &res) != 0 || !res)
        return -1;
    int ok = res->ai_canonname && strchr(res->ai_canonname, '.') &&
             strlen(res->ai_canonname) < len;
    if (ok)
        strcpy(out, res->ai_canonname);
    freeaddrinfo(res);
    return ok ? 0 : -1;
}

static int this_host(int long_names, char *host, size_t len, char *err,
                     size_t errlen)
{
    char hostname[256];

    if (gethostname(hostname, sizeof hostname) < 0) {
        snprintf(err, errlen, "cannot get the host name: %s",
                 strerror(errno));
        return -1;
    }
    hostname[sizeof hostname - 1] = '\0';
    if (!long_names) {
        hostname[strcspn(hostname, ".")] = '\0';
        snprintf(host, len, "%s", hostname);
        return 0;
    }
    if (strchr(hostname, '.')) {
        snprintf(host, len, "%s", hostname);
        return 0;
    }
    if (fqdn(hostname, host, len) == 0)
        return 0;
    snprintf(err, errlen,
             "cannot set a long node name: host name '%s' has no domain "
             "and does not resolve to one; give the host, as in -name "
             "node@host.domain or node@127.0.0.1", hostname);
    return -1;
}

int en_node_name_check(const char *name, char *err, size_t errlen)
{
    const char *at;
    size_t alen;

    if (!name || !*name) {
        snprintf(err, errlen, "no node name: give -sname or -name");
        return -1;
    }
    at = strchr(name, '@');
    alen = at ? (size_t)(at - name) : strlen(name);
    if (!valid_alive(name, alen)) {
        snprintf(err, errlen,
                 "invalid node name '%s': the part before '@' takes "
                 "letters, digits, '_' and '-'", name);
        return -1;
    }
    if (at && (!at[1] || strchr(at + 1, '@'))) {
        snprintf(err, errlen, "invalid node name '%s'", name);
        return -1;
    }
    if (strlen(name) > EN_NODE_NAME_MAX) {
        snprintf(err, errlen,
                 "node name '%.40s...' is too long: %zu characters, and a "
                 "node name is an atom, which holds at most %d",
                 name, strlen(name), EN_ATOM_CHARS_MAX);
        return -1;
    }
    return 0;
}

int en_node_full_name(const char *name, int long_names, char *full,
                      size_t fulllen, char *err, size_t errlen)
{
    const char *at;
    size_t alen;
    char host[256];

    if (en_node_name_check(name, err, errlen) < 0)
        return -1;
    at = strchr(name, '@');
    alen = at ? (size_t)(at - name) : strlen(name);
    if (at)
        snprintf(host, sizeof host, "%s", at + 1);
    else if (this_host(long_names, host, sizeof host, err, errlen) < 0)
        return -1;
    /* the alive part is ASCII: bytes are characters */
    size_t len = alen + 1 + strlen(host);
    if (len > EN_NODE_NAME_MAX || len >= fulllen) {
        snprintf(err, errlen,
                 "node name '%.40s...' is too long: %zu characters, and a "
                 "node name is an atom, which holds at most %d",
                 name, len, EN_ATOM_CHARS_MAX);
        return -1;
    }
    snprintf(full, fulllen, "%.*s@%s", (int)alen, name, host);
    return 0;
}

int en_cookie_from_home(char *cookie, size_t len, char *err, size_t errlen)
{
    const char *home = getenv("HOME");
    char path[4096];
    FILE *f;
    size_t n;

    if (!home || !*home) {
        snprintf(err, errlen, "no cookie given and $HOME is not set");
        return -1;
    }
    snprintf(path, sizeof path, "%s/.erlang.cookie", home);
    f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "no cookie given and cannot read %s: %s", path,
                 strerror(errno));
        return -1;
    }
    n = fread(cookie, 1, len - 1, f);
    fclose(f);
    cookie[n] = '\0';
    while (n > 0 && isspace((unsigned char)cookie[n - 1]))
        cookie[--n] = '\0';
    if (n == 0) {
        snprintf(err, errlen, "the cookie file %s is empty", path);
        return -1;
    }
    return 0;
}
