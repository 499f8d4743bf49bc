/* test_allow.c - the allow list: which entries are taken, which node
 * names they match (OTP's dist_util:is_allowed/2), the setter of the
 * configuration, and the host and address checks made on a client's
 * certificate (OTP's public_key:pkix_verify_hostname/2). The list at work
 * is tested with a fake peer (tests/runtime/test_allow.c) and against
 * OTP nodes (tests/cluster/test_allow.c).
 */
#include <criterion/criterion.h>

#include <string.h>

#include "enode.h"
#include "node/config_int.h"
#include "proto/allow.h"
#include "tls/tls_certnames.h"

static en_allow_t list_of(const char *const *entries, size_t n)
{
    en_allow_t a = {0};
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(en_allow_add(&a, entries[i]), 0);
    return a;
}

Test(allow, the_three_forms_of_entry_match_as_in_otp)
{
    const char *e[] = {"a@h1", "h2", "c@"};
    en_allow_t a = list_of(e, 3);
    cr_assert(en_allow_match(&a, "a@h1"));
    cr_assert(!en_allow_match(&a, "b@h1"), "a node entry is that node");
    cr_assert(!en_allow_match(&a, "a@h1.example"), "hosts are not suffixes");
    cr_assert(en_allow_match(&a, "x@h2"), "a host entry: any node there");
    cr_assert(en_allow_match(&a, "h2"), "a bare host (a dynamic name)");
    cr_assert(en_allow_match(&a, "c@anywhere"), "name@: any host");
    cr_assert(!en_allow_match(&a, "cc@h3"));
    cr_assert(!en_allow_match(&a, "A@h1"), "names compare byte for byte");
    en_allow_free(&a);
}

Test(allow, an_empty_list_matches_nothing_itself)
{
    en_allow_t a = {0};
    cr_assert(!en_allow_match(&a, "a@h"));
}

Test(allow, entries_that_match_no_node_are_refused)
{
    char err[256];
    const char *bad[] = {"", "@", "@host", "a@b@c"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(en_allow_check(bad[i], err, sizeof err), -1, "%s",
                     bad[i]);
        cr_assert(strstr(err, "matches no node"), "%s", err);
    }
    cr_assert_eq(en_allow_check(NULL, err, sizeof err), -1);
    char longname[EN_HS_NAME_MAX + 1];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    cr_assert_eq(en_allow_check(longname, err, sizeof err), -1);
    cr_assert(strstr(err, "too long"), "%s", err);
    const char *good[] = {"a@h", "h", "a@", "a@h.example.org", "127.0.0.1"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        cr_assert_eq(en_allow_check(good[i], err, sizeof err), 0, "%s",
                     good[i]);
}

Test(allow, an_entry_is_kept_once_and_hosts_are_read)
{
    const char *e[] = {"a@h", "a@h", "h", "n@"};
    en_allow_t a = list_of(e, 4);
    cr_assert_eq(a.n, 3);
    cr_assert_str_eq(en_allow_host(a.entry[0]), "h");
    cr_assert_str_eq(en_allow_host(a.entry[1]), "h");
    cr_assert_null(en_allow_host(a.entry[2]));
    en_allow_free(&a);
}

Test(allow, the_config_setter_copies_and_checks)
{
    enode_config_t *c;
    cr_assert_eq(enode_config_new(&c), 0);
    char name[] = "a@h";
    cr_assert_eq(enode_config_add_allowed_node(c, name), 0);
    name[0] = 'z';
    cr_assert_eq(enode_config_add_allowed_node(c, "other"), 0);
    cr_assert_eq(enode_config_add_allowed_node(c, "a@h"), 0);
    cr_assert_eq(enode_config_add_allowed_node(c, "@h"), ENODE_EINVAL);
    cr_assert_eq(enode_config_add_allowed_node(c, NULL), ENODE_EINVAL);
    cr_assert_eq(enode_config_add_allowed_node(NULL, "a@h"), ENODE_EINVAL);
    cr_assert_eq(c->allowed.n, 2);
    cr_assert_str_eq(c->allowed.entry[0], "a@h");
    cr_assert_str_eq(c->allowed.entry[1], "other");
    enode_config_free(c);
}

/* ---- certificate names ---------------------------------------------------- */

static char *dns_a[] = {"node1.example.org", "localhost", "127.0.0.1"};
static char *cn_wild[] = {"*.example.org"};
static char *cn_part[] = {"node*.example.org"};
static char *cn_plain[] = {"host.example.org"};

Test(certnames, with_sans_only_dns_names_count_and_case_does_not)
{
    en_cert_names_t n = {.has_san = true, .dns = dns_a, .n_dns = 3,
                         .cn = cn_plain, .n_cn = 1};
    cr_assert(en_cert_names_host(&n, "node1.example.org"));
    cr_assert(en_cert_names_host(&n, "NODE1.Example.ORG"));
    cr_assert(en_cert_names_host(&n, "127.0.0.1"), "a dNSName as written");
    cr_assert(!en_cert_names_host(&n, "node1"), "no short-name magic");
    cr_assert(!en_cert_names_host(&n, "host.example.org"),
              "the subject is not looked at when there are SANs");
}

Test(certnames, without_sans_the_common_name_with_wildcards)
{
    en_cert_names_t plain = {.cn = cn_plain, .n_cn = 1};
    cr_assert(en_cert_names_host(&plain, "Host.example.org"));
    cr_assert(!en_cert_names_host(&plain, "other.example.org"));
    en_cert_names_t wild = {.cn = cn_wild, .n_cn = 1};
    cr_assert(en_cert_names_host(&wild, "a.example.org"));
    cr_assert(!en_cert_names_host(&wild, "a.b.example.org"),
              "a wildcard covers one label");
    cr_assert(!en_cert_names_host(&wild, "example.org"));
    en_cert_names_t part = {.cn = cn_part, .n_cn = 1};
    cr_assert(en_cert_names_host(&part, "node7.example.org"));
    cr_assert(en_cert_names_host(&part, "node.example.org"));
    cr_assert(!en_cert_names_host(&part, "nod.example.org"));
    static char *cn_ip[] = {"127.0.0.1"};
    en_cert_names_t ip = {.cn = cn_ip, .n_cn = 1};
    cr_assert(!en_cert_names_host(&ip, "127.0.0.1"),
              "an IP literal never matches a common name");
}

Test(certnames, addresses_match_ip_sans_only)
{
    en_cert_ip_t ips[] = {{.len = 4, .addr = {127, 0, 0, 1}},
                          {.len = 16, .addr = {[15] = 1}}};
    en_cert_names_t n = {.has_san = true, .ip = ips, .n_ip = 2};
    uint8_t v4[4] = {127, 0, 0, 1}, other[4] = {10, 0, 0, 1};
    uint8_t v6[16] = {[15] = 1};
    cr_assert(en_cert_names_ip(&n, v4, 4));
    cr_assert(en_cert_names_ip(&n, v6, 16));
    cr_assert(!en_cert_names_ip(&n, other, 4));
    cr_assert(!en_cert_names_host(&n, "127.0.0.1"),
              "an address is not a dNSName");
}

Test(certnames, garbage_is_not_a_certificate)
{
    en_cert_names_t n;
    const unsigned char junk[] = {0x30, 0x03, 0x02, 0x01, 0x00};
    cr_assert_eq(en_cert_names_read(junk, sizeof junk, &n), -1);
    cr_assert_eq(n.n_dns + n.n_cn + n.n_ip, 0);
}
