/* version.c - the version of the library, to compare with the headers'
 * (ENODE_VERSION_* in enode_version.h). */
#include "config.h"

#include "enode.h"

const char *enode_version(void)
{
    return PACKAGE_VERSION;
}

unsigned long enode_version_number(void)
{
    return ENODE_VERSION_NUMBER;
}
