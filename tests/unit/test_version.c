/* test_version.c - the library reports the version it was built as, and
 * the headers' ENODE_VERSION_* macros agree with it and with configure. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "enode.h"

Test(version, matches_package_version)
{
    cr_assert_str_eq(enode_version(), PACKAGE_VERSION);
    cr_assert_str_eq(ENODE_VERSION_STRING, PACKAGE_VERSION);
    cr_assert(strchr(enode_version(), '.') != NULL, "looks like x.y.z");
}

Test(version, the_macros_spell_the_string)
{
    char spelled[64];
    snprintf(spelled, sizeof spelled, "%d.%d.%d", ENODE_VERSION_MAJOR,
             ENODE_VERSION_MINOR, ENODE_VERSION_PATCH);
    cr_assert_str_eq(spelled, ENODE_VERSION_STRING);
}

Test(version, the_number_packs_major_minor_patch)
{
    cr_assert_eq(ENODE_VERSION_NUMBER,
                 ENODE_VERSION_MAJOR * 10000UL + ENODE_VERSION_MINOR * 100UL +
                     ENODE_VERSION_PATCH);
    cr_assert_eq(enode_version_number(), ENODE_VERSION_NUMBER);
    cr_assert_lt(ENODE_VERSION_MINOR, 100);
    cr_assert_lt(ENODE_VERSION_PATCH, 100);
}
