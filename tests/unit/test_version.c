/* test_version.c - the library reports the version it was built as. */
#include <criterion/criterion.h>
#include <string.h>

#include "config.h"
#include "enode.h"

Test(version, matches_package_version)
{
    cr_assert_str_eq(enode_version(), PACKAGE_VERSION);
    cr_assert(strchr(enode_version(), '.') != NULL, "looks like x.y.z");
}
