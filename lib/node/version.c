/* version.c - the package version. */
#include "config.h"

#include "enode.h"

const char *enode_version(void)
{
    return PACKAGE_VERSION;
}
