/* config_words.c - erl's flags as words: from an environment variable
 * (ERL_AFLAGS, ERL_FLAGS, ERL_ZFLAGS) or an -args_file file, split as
 * erlexec splits them.
 *
 * Blanks (space, tab, newline, CR, FF, VT) separate words. In a word,
 * "..." and '...' quote everything up to the closing quote (no escapes
 * inside), and a backslash takes the next character as it is. In a file,
 * '#' ends the word it is in and starts a comment to the end of the line;
 * in a variable it is an ordinary character.
 */
#include "node/config_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
           ch == '\f' || ch == '\v';
}

static int push_word(en_words_t *w, char *word)
{
    if (w->n == w->room) {
        int room = w->room ? 2 * w->room : 16;
        char **grown = realloc(w->word, (size_t)room * sizeof *grown);
        if (!grown)
            return ENODE_ENOMEM;
        w->word = grown;
        w->room = room;
    }
    w->word[w->n++] = word;
    return 0;
}

/* One word from *p (which is not a blank, nor a comment's '#'), into
 * out (room for strlen(*p) + 1); *p moves past it. */
static void take_word(const char **p, char *out, int comments)
{
    const char *s = *p;
    size_t len = 0;

    while (*s && !is_blank(*s) && !(comments && *s == '#')) {
        if (*s == '"' || *s == '\'') {
            char quote = *s++;
            while (*s && *s != quote)
                out[len++] = *s++;
            if (*s)
                s++;
        } else if (*s == '\\') {
            if (*++s)
                out[len++] = *s++;
        } else {
            out[len++] = *s++;
        }
    }
    out[len] = '\0';
    *p = s;
}

int en_words_split(en_words_t *w, const char *s, int comments)
{
    while (s && *s) {
        if (is_blank(*s)) {
            s++;
        } else if (comments && *s == '#') {
            while (*s && *s != '\n')
                s++;
        } else {
            char *word = malloc(strlen(s) + 1);
            if (!word)
                return ENODE_ENOMEM;
            take_word(&s, word, comments);
            if (push_word(w, word) < 0) {
                free(word);
                return ENODE_ENOMEM;
            }
        }
    }
    return 0;
}

/* No set of flags comes near this; a device such as /dev/zero would
 * otherwise be read until memory runs out. */
#define ARGS_FILE_MAX (1024 * 1024)

/* The whole file at path, NUL-terminated, or NULL with err set. */
static char *slurp(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *text = NULL;
    size_t len = 0, room = 0, got;

    if (!f) {
        snprintf(err, errlen, "-args_file %s: %s", path, strerror(errno));
        return NULL;
    }
    do {
        if (room - len < 4096) {
            char *grown = realloc(text, room = 2 * room + 4096);
            if (!grown) {
                snprintf(err, errlen, "-args_file %s: out of memory", path);
                free(text);
                fclose(f);
                return NULL;
            }
            text = grown;
        }
        got = fread(text + len, 1, room - len - 1, f);
        len += got;
    } while (got > 0 && len <= ARGS_FILE_MAX);
    if (len > ARGS_FILE_MAX) {
        snprintf(err, errlen, "-args_file %s: larger than %d bytes", path,
                 ARGS_FILE_MAX);
        free(text);
        fclose(f);
        return NULL;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "-args_file %s: %s", path, strerror(errno));
        free(text);
        text = NULL;
    } else {
        text[len] = '\0';
    }
    fclose(f);
    return text;
}

int en_words_read_file(en_words_t *w, const char *path, char *err,
                       size_t errlen)
{
    char *text = slurp(path, err, errlen);
    int rc;

    if (!text)
        return ENODE_EINVAL;
    rc = en_words_split(w, text, 1);
    free(text);
    if (rc < 0)
        snprintf(err, errlen, "-args_file %s: out of memory", path);
    return rc;
}

void en_words_free(en_words_t *w)
{
    for (int i = 0; i < w->n; i++)
        free(w->word[i]);
    free(w->word);
    w->word = NULL;
    w->n = w->room = 0;
}
