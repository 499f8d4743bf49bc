# ENODE_FIND_WOLFSSL
# ------------------
# Locate wolfSSL: --with-wolfssl=PREFIX for a custom build (for instance the
# fast one `./dev wolfssl` makes), else pkg-config's `wolfssl`.
# Sets WOLFSSL_CFLAGS, WOLFSSL_LIBS, and enode_wolfssl_fast=yes when the
# build has AES-NI and assembly (WOLFSSL_AESNI in wolfssl/options.h).
AC_DEFUN([ENODE_FIND_WOLFSSL], [
  AC_ARG_WITH([wolfssl],
    [AS_HELP_STRING([--with-wolfssl=PREFIX],
      [use the wolfSSL installed under PREFIX (default: pkg-config wolfssl)])],
    [enode_wolfssl_prefix="$withval"], [enode_wolfssl_prefix=""])
  AS_IF([test -n "$enode_wolfssl_prefix"], [
    WOLFSSL_CFLAGS="-I$enode_wolfssl_prefix/include"
    WOLFSSL_LIBS="-L$enode_wolfssl_prefix/lib -Wl,-rpath,$enode_wolfssl_prefix/lib -lwolfssl"
    enode_wolfssl_where="$enode_wolfssl_prefix"
    ENODE_PC_WOLFSSL_REQUIRES=""
    ENODE_PC_WOLFSSL_LIBS="$WOLFSSL_LIBS"
  ], [
    PKG_CHECK_MODULES([WOLFSSL], [wolfssl >= 5.0], [],
      [AC_MSG_ERROR([wolfSSL not found: install libwolfssl-dev or pass --with-wolfssl=PREFIX])])
    enode_wolfssl_where="pkg-config (`$PKG_CONFIG --variable=libdir wolfssl`)"
    dnl enode.pc then names wolfssl, so that a static link gets what
    dnl wolfssl.pc's own Libs.private add.
    ENODE_PC_WOLFSSL_REQUIRES="wolfssl"
    ENODE_PC_WOLFSSL_LIBS=""
  ])
  AC_SUBST([ENODE_PC_WOLFSSL_REQUIRES])
  AC_SUBST([ENODE_PC_WOLFSSL_LIBS])
  AC_SUBST([WOLFSSL_CFLAGS])
  AC_SUBST([WOLFSSL_LIBS])

  enode_save_CPPFLAGS="$CPPFLAGS"
  enode_save_LIBS="$LIBS"
  CPPFLAGS="$CPPFLAGS $WOLFSSL_CFLAGS"
  LIBS="$WOLFSSL_LIBS $LIBS"
  AC_MSG_CHECKING([whether wolfSSL links])
  AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <wolfssl/options.h>
#include <wolfssl/ssl.h>]], [[return wolfSSL_Init();]])],
    [AC_MSG_RESULT([yes])],
    [AC_MSG_ERROR([cannot link wolfSSL with $WOLFSSL_LIBS])])
  AC_MSG_CHECKING([wolfSSL version])
  AC_COMPUTE_INT([enode_wolfssl_hex], [LIBWOLFSSL_VERSION_HEX],
    [[#include <wolfssl/options.h>
#include <wolfssl/version.h>]], [enode_wolfssl_hex=0])
  dnl 0x05005004 is 5.5.4: major in 8 bits, minor and patch in 12 bits each.
  enode_wolfssl_version=`printf '%d.%d.%d' $(( enode_wolfssl_hex >> 24 )) $(( (enode_wolfssl_hex >> 12) & 0xfff )) $(( enode_wolfssl_hex & 0xfff ))`
  AC_MSG_RESULT([$enode_wolfssl_version])
  AC_MSG_CHECKING([whether wolfSSL has AES-NI and assembly])
  AC_COMPILE_IFELSE([AC_LANG_PROGRAM([[#include <wolfssl/options.h>
#if !defined(WOLFSSL_AESNI) || !defined(USE_INTEL_SPEEDUP)
#error slow
#endif]], [[]])], [enode_wolfssl_fast=yes], [enode_wolfssl_fast=no])
  AC_MSG_RESULT([$enode_wolfssl_fast])
  AS_IF([test "x$enode_wolfssl_fast" = xyes],
    [AC_DEFINE([ENODE_WOLFSSL_FAST], [1], [wolfSSL has AES-NI and assembly])])
  AC_DEFINE_UNQUOTED([ENODE_WOLFSSL_WHERE], ["$enode_wolfssl_where"], [where wolfSSL came from])
  CPPFLAGS="$enode_save_CPPFLAGS"
  LIBS="$enode_save_LIBS"
])
