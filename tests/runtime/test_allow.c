/* test_allow.c - the allow list at work, with a fake peer dialling the
 * node: a node the list holds connects; one it does not hold is refused
 * after sending its name, with the status "not_allowed" OTP sends, and
 * the node's log names it; enode_allow() adds to the list at run time,
 * as net_kernel:allow/1 does. (Over TLS, with certificates: the cluster
 * tests.)
 */
#include <criterion/criterion.h>
#include <string.h>

#include "rt.h"

TestSuite(allow, .fini = rt_teardown, .timeout = 20);

static enode_t *node_allowing(const char *const *names, size_t n)
{
    rt_node_opts_t o = {.hidden = 1, .allowed = names, .n_allowed = n};
    return rt_node_new(&o);
}

/* The peer's connection attempt fails, having read "not_allowed". */
static void refused(const fp_config_t *c)
{
    cr_assert_eq(fp_connect(&rt_fp, rt_node, c), -1, "connected");
    cr_assert(strstr(fp_error(rt_fp), "(status not_allowed)"), "%s",
              fp_error(rt_fp));
    const char *name = c && c->name ? c->name : FP_DEFAULT_NAME;
    cr_assert_eq(enode_is_connected(rt_node, name), 0);
    char line[300];
    snprintf(line, sizeof line,
             "connection attempt from disallowed node %s: refused (sent "
             "not_allowed)", name);
    cr_assert(strstr(rt_log(), line), "log:\n%s", rt_log());
}

Test(allow, a_listed_node_connects)
{
    const char *list[] = {"other@localhost", FP_DEFAULT_NAME};
    rt_node = node_allowing(list, 2);
    cr_assert_eq(fp_connect(&rt_fp, rt_node, NULL), 0, "%s", fp_error(rt_fp));
    cr_assert_eq(enode_is_connected(rt_node, FP_DEFAULT_NAME), 1);
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
}

Test(allow, a_node_not_listed_is_refused_with_not_allowed)
{
    const char *list[] = {"other@localhost"};
    rt_node = node_allowing(list, 1);
    refused(NULL);
}

Test(allow, host_and_name_entries_match_as_in_otp)
{
    const char *list[] = {"localhost", "solo@"};
    rt_node = node_allowing(list, 2);
    fp_config_t by_host = {.name = "any@localhost"};
    cr_assert_eq(fp_connect(&rt_fp, rt_node, &by_host), 0, "%s",
                 fp_error(rt_fp));
    fp_t *second = NULL;
    fp_config_t by_name = {.name = "solo@127.0.0.1"};
    cr_assert_eq(fp_connect(&second, rt_node, &by_name), 0, "%s",
                 fp_error(second));
    fp_free(second);
    second = NULL;
    fp_config_t neither = {.name = "x@127.0.0.1"};
    cr_assert_eq(fp_connect(&second, rt_node, &neither), -1);
    cr_assert(strstr(fp_error(second), "(status not_allowed)"), "%s",
              fp_error(second));
    fp_free(second);
}

Test(allow, enode_allow_adds_at_run_time)
{
    rt_node = node_allowing(NULL, 0);
    /* an empty list: everyone; adding nothing changes nothing */
    cr_assert_eq(enode_allow(rt_node, NULL, 0), 0);
    cr_assert_eq(fp_connect(&rt_fp, rt_node, NULL), 0, "%s", fp_error(rt_fp));
    const char *first[] = {"first@localhost"};
    cr_assert_eq(enode_allow(rt_node, first, 1), 0);
    /* the connection up stays; a new one from a node not listed is not */
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    fp_t *again = NULL;
    fp_config_t other = {.name = "second@localhost"};
    cr_assert_eq(fp_connect(&again, rt_node, &other), -1);
    cr_assert(strstr(fp_error(again), "(status not_allowed)"), "%s",
              fp_error(again));
    fp_free(again);
    again = NULL;
    const char *second[] = {"second@localhost"};
    cr_assert_eq(enode_allow(rt_node, second, 1), 0);
    cr_assert_eq(fp_connect(&again, rt_node, &other), 0, "%s",
                 fp_error(again));
    fp_free(again);
}

Test(allow, enode_allow_takes_all_or_none)
{
    rt_node = node_allowing(NULL, 0);
    const char *bad[] = {"good@localhost", "@localhost"};
    cr_assert_eq(enode_allow(rt_node, bad, 2), ENODE_EINVAL);
    cr_assert(strstr(enode_last_error(rt_node), "'@localhost'"), "%s",
                     enode_last_error(rt_node));
    cr_assert_eq(enode_allow(rt_node, NULL, 1), ENODE_EINVAL);
    /* nothing was added: the list is still empty, everyone connects */
    cr_assert_eq(fp_connect(&rt_fp, rt_node, NULL), 0, "%s", fp_error(rt_fp));
}
