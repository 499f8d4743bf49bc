/* test_tls_options.c - the table of ssl options (lib/tls/tlsconf_opts.c)
 * against OTP 29's list, against enode-tls(7), and against what reading
 * each option does.
 *
 * The table says, for every option an OTP option file may hold, whether
 * enode honours it, accepts it without effect or refuses it.  These tests
 * walk it so that neither the manual page nor the code can drift: every
 * OTP 29 option is in the table; every option of the table is listed in
 * the page's section for its effect, and every option the page lists
 * there is in the table with that effect; and reading each option does
 * what the table says (a warning, or an error that says "not supported").
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls/tlsconf.h"

/* ssl_config:ssl_options() of OTP 29 (ssl 11.7), the options ssl takes,
 * and client_preferred_next_protocols, which it takes beside them. */
static const char *const otp29_options[] = {"alpn_advertised_protocols",
                                            "alpn_preferred_protocols",
                                            "anti_replay",
                                            "beast_mitigation",
                                            "cacertfile",
                                            "cacerts",
                                            "cert",
                                            "certs_keys",
                                            "certfile",
                                            "certificate_authorities",
                                            "ciphers",
                                            "client_renegotiation",
                                            "cookie",
                                            "crl_cache",
                                            "crl_check",
                                            "customize_hostname_check",
                                            "depth",
                                            "dh",
                                            "dhfile",
                                            "early_data",
                                            "eccs",
                                            "erl_dist",
                                            "fail_if_no_peer_cert",
                                            "fallback",
                                            "handshake",
                                            "hibernate_after",
                                            "honor_cipher_order",
                                            "honor_ecc_order",
                                            "keep_secrets",
                                            "key",
                                            "keyfile",
                                            "key_update_at",
                                            "ktls",
                                            "log_level",
                                            "max_handshake_size",
                                            "middlebox_comp_mode",
                                            "max_fragment_length",
                                            "next_protocol_selector",
                                            "next_protocols_advertised",
                                            "stapling",
                                            "padding_check",
                                            "partial_chain",
                                            "password",
                                            "protocol",
                                            "psk_groups",
                                            "psk_identity",
                                            "receiver_spawn_opts",
                                            "renegotiate_at",
                                            "reuse_session",
                                            "reuse_sessions",
                                            "secure_renegotiate",
                                            "sender_spawn_opts",
                                            "server_name_indication",
                                            "session_tickets",
                                            "stateless_tickets_seed",
                                            "signature_algs",
                                            "signature_algs_cert",
                                            "sni_fun",
                                            "sni_hosts",
                                            "srp_identity",
                                            "supported_groups",
                                            "use_ticket",
                                            "use_srtp",
                                            "user_lookup_fun",
                                            "verify",
                                            "verify_fun",
                                            "cert_policy_opts",
                                            "allow_any_ca_purpose",
                                            "versions",
                                            "client_preferred_next_protocols"};

#define N_OTP29 (sizeof otp29_options / sizeof otp29_options[0])

/* The option's effect, or -1 when the table lacks it. */
static int effect_of(const char *name)
{
    en_tls_effect_t effect;
    const char *n;
    for (size_t i = 0; (n = en_tls_option_at(i, &effect)) != NULL; i++)
        if (strcmp(n, name) == 0)
            return (int)effect;
    return -1;
}

Test(tls_options, every_otp29_option_is_in_the_table)
{
    for (size_t i = 0; i < N_OTP29; i++)
        cr_expect_geq(effect_of(otp29_options[i]), 0,
                      "OTP 29's %s is not in enode's table", otp29_options[i]);
}

Test(tls_options, the_table_names_each_option_once)
{
    const char *a, *b;
    for (size_t i = 0; (a = en_tls_option_at(i, NULL)) != NULL; i++)
        for (size_t j = i + 1; (b = en_tls_option_at(j, NULL)) != NULL; j++)
            cr_expect_str_neq(a, b, "%s is in the table twice", a);
}

/* ------------------------------------------------------------------ */
/* The table and enode-tls(7)                                          */
/* ------------------------------------------------------------------ */

#define MAX_LISTED 128

/* The options a section of the page lists: the first word of each tag
 * (the line after .TP or .TQ). */
typedef struct listed {
    char names[MAX_LISTED][64];
    int n;
} listed_t;

static const char *const section_titles[] = {
    [EN_TLS_HONOURED] = ".SH OPTIONS HONOURED",
    [EN_TLS_NO_EFFECT] = ".SH OPTIONS ACCEPTED WITHOUT EFFECT",
    [EN_TLS_REFUSED] = ".SH OPTIONS REFUSED",
};

/* The tag line's first word: ".B name" or ".BR name ...". */
static void add_tag(listed_t *l, const char *line)
{
    char name[64];
    if (sscanf(line, ".B %63s", name) != 1 &&
        sscanf(line, ".BR %63s", name) != 1)
        cr_assert_fail("enode-tls(7): a tag that is not an option: %s", line);
    cr_assert_lt(l->n, MAX_LISTED);
    strcpy(l->names[l->n++], name);
}

/* Read the three option sections of doc/enode-tls.7 into lists[]. */
static void read_page(listed_t lists[3])
{
    FILE *f = fopen(EN_TEST_SRCDIR "/doc/enode-tls.7", "r");
    cr_assert_not_null(f, "cannot open doc/enode-tls.7");
    char line[512];
    int section = -1, tag_next = 0;
    memset(lists, 0, 3 * sizeof *lists);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (strncmp(line, ".SH", 3) == 0) {
            section = -1;
            for (int s = 0; s < 3; s++)
                if (strcmp(line, section_titles[s]) == 0)
                    section = s;
        } else if (section >= 0 && tag_next) {
            add_tag(&lists[section], line);
        }
        tag_next = strcmp(line, ".TP") == 0 || strcmp(line, ".TQ") == 0;
    }
    fclose(f);
}

static int is_listed(const listed_t *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0)
            return 1;
    return 0;
}

Test(tls_options, every_option_is_in_enode_tls_7_under_its_effect)
{
    listed_t lists[3];
    read_page(lists);
    en_tls_effect_t effect;
    const char *name;
    for (size_t i = 0; (name = en_tls_option_at(i, &effect)) != NULL; i++)
        cr_expect(is_listed(&lists[effect], name),
                  "%s is not listed in enode-tls(7) under \"%s\"", name,
                  section_titles[effect] + 4);
}

Test(tls_options, enode_tls_7_lists_only_options_of_the_table)
{
    listed_t lists[3];
    read_page(lists);
    for (int s = 0; s < 3; s++) {
        cr_expect_gt(lists[s].n, 0, "enode-tls(7) has no %s",
                     section_titles[s]);
        for (int i = 0; i < lists[s].n; i++)
            cr_expect_eq(effect_of(lists[s].names[i]), s,
                         "enode-tls(7) lists %s under \"%s\", but the table "
                         "says otherwise",
                         lists[s].names[i], section_titles[s] + 4);
    }
}

/* ------------------------------------------------------------------ */
/* What reading each option does                                       */
/* ------------------------------------------------------------------ */

typedef struct warnings {
    int count;
    char last[512];
} warnings_t;

static void collect(void *arg, const char *message)
{
    warnings_t *w = arg;
    w->count++;
    snprintf(w->last, sizeof w->last, "%s", message);
}

/* Read {name, Value} for the server side, or for the client side if the
 * option is the client's; 0 or -1 with err. */
static int read_one(const char *name, const char *value, warnings_t *w,
                    char *err, size_t errlen)
{
    static const char *const sides[] = {"server", "client"};
    int r = -1;
    for (int s = 0; s < 2; s++) {
        en_tls_conf_t conf;
        char text[256];
        snprintf(text, sizeof text, "[{%s, [{%s, %s}]}].", sides[s], name,
                 value);
        memset(w, 0, sizeof *w);
        en_tls_conf_init(&conf);
        conf.warn = collect;
        conf.warn_arg = w;
        r = en_tls_conf_parse_optfile(&conf, "opts", text, strlen(text), err,
                                      errlen);
        en_tls_conf_free(&conf);
        if (r == 0 || !strstr(err, "OTP refuses it for the"))
            break;
    }
    return r;
}

Test(tls_options, options_without_effect_are_accepted_with_a_warning)
{
    en_tls_effect_t effect;
    const char *name;
    for (size_t i = 0; (name = en_tls_option_at(i, &effect)) != NULL; i++) {
        if (effect != EN_TLS_NO_EFFECT)
            continue;
        warnings_t w;
        char err[512] = "";
        cr_expect_eq(read_one(name, "true", &w, err, sizeof err), 0, "%s: %s",
                     name, err);
        cr_expect_eq(w.count, 1, "%s: no warning", name);
        cr_expect(strstr(w.last, name) && strstr(w.last, "has no effect"),
                  "%s: warning <%s>", name, w.last);
    }
}

Test(tls_options, refused_options_are_refused_by_name)
{
    en_tls_effect_t effect;
    const char *name;
    for (size_t i = 0; (name = en_tls_option_at(i, &effect)) != NULL; i++) {
        if (effect != EN_TLS_REFUSED)
            continue;
        warnings_t w;
        char err[512] = "";
        cr_expect_eq(read_one(name, "true", &w, err, sizeof err), -1,
                     "%s was accepted", name);
        cr_expect(strstr(err, name) && strstr(err, "is not supported: "),
                  "%s: <%s>", name, err);
    }
}

Test(tls_options, honoured_options_are_read)
{
    en_tls_effect_t effect;
    const char *name;
    for (size_t i = 0; (name = en_tls_option_at(i, &effect)) != NULL; i++) {
        if (effect != EN_TLS_HONOURED)
            continue;
        /* {'$bad'} is no option's value: each reader says what it wants */
        warnings_t w;
        char err[512] = "";
        cr_expect_eq(read_one(name, "{'$bad'}", &w, err, sizeof err), -1,
                     "%s took {'$bad'}", name);
        cr_expect(strstr(err, name), "%s: <%s>", name, err);
        cr_expect(!strstr(err, "unknown option"), "%s: <%s>", name, err);
    }
}

Test(tls_options, honoured_in_their_default_value_only)
{
    static const struct {
        const char *name, *good, *bad;
    } cases[] = {
        {"protocol", "tls", "dtls"},
        {"stapling", "no_staple", "staple"},
        {"customize_hostname_check", "[]", "[{fqdn_fun, undefined}]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        warnings_t w;
        char err[512] = "";
        cr_expect_eq(
            read_one(cases[i].name, cases[i].good, &w, err, sizeof err), 0,
            "%s %s: %s", cases[i].name, cases[i].good, err);
        cr_expect_eq(w.count, 0);
        cr_expect_eq(read_one(cases[i].name, cases[i].bad, &w, err, sizeof err),
                     -1, "%s %s accepted", cases[i].name, cases[i].bad);
        cr_expect(strstr(err, "is not supported with value"), "<%s>", err);
    }
}

Test(tls_options, an_unknown_option_lists_those_enode_reads)
{
    warnings_t w;
    char err[1024] = "";
    cr_assert_eq(read_one("no_such_option", "1", &w, err, sizeof err), -1);
    cr_expect(strstr(err, "no_such_option: unknown option (enode reads "
                          "certfile, keyfile,"),
              "<%s>", err);
    cr_expect(strstr(err, "customize_hostname_check)"), "<%s>", err);
}
