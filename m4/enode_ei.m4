# ENODE_FIND_EI
# -------------
# Locate erl_interface (ei). --with-ei=DIR names its directory (the one
# holding include/ei.h and lib/libei.a); otherwise ask the `erl` in PATH
# (or $ENODE_BUILD_ERL) for code:lib_dir(erl_interface). $ERL is left to
# the tests, which run against whichever OTP release it names.
# Sets and substitutes EI_CFLAGS, EI_LIBS, EI_INCLUDEDIR, EI_LIBA.
AC_DEFUN([ENODE_FIND_EI], [
  AC_ARG_WITH([ei],
    [AS_HELP_STRING([--with-ei=DIR],
      [erl_interface directory (default: ask erl for code:lib_dir(erl_interface))])],
    [enode_ei_dir="$withval"], [enode_ei_dir=""])
  AS_IF([test -z "$enode_ei_dir"], [
    AC_ARG_VAR([ENODE_BUILD_ERL], [the erl that names erl_interface's directory])
    AC_PATH_PROG([ENODE_BUILD_ERL], [erl])
    AS_IF([test -z "$ENODE_BUILD_ERL"],
      [AC_MSG_ERROR([erl not found: install Erlang/OTP (erlang-base, erlang-dev) or pass --with-ei=DIR])])
    AC_MSG_CHECKING([for erl_interface through $ENODE_BUILD_ERL])
    enode_ei_dir=`"$ENODE_BUILD_ERL" -noshell -noinput -eval 'io:format("~s", [[code:lib_dir(erl_interface)]]), halt().' 2>/dev/null`
    AC_MSG_RESULT([$enode_ei_dir])
  ])
  AS_IF([test ! -f "$enode_ei_dir/include/ei.h" || test ! -f "$enode_ei_dir/lib/libei.a"],
    [AC_MSG_ERROR([no ei.h and libei.a under '$enode_ei_dir': install erlang-dev or pass --with-ei=DIR])])
  enode_ei_version=`basename "$enode_ei_dir" | sed 's/^erl_interface-//'`
  EI_INCLUDEDIR="$enode_ei_dir/include"
  EI_LIBA="$enode_ei_dir/lib/libei.a"
  EI_CFLAGS="-I$EI_INCLUDEDIR"
  EI_LIBS="$EI_LIBA"
  AC_SUBST([EI_CFLAGS])
  AC_SUBST([EI_LIBS])
  AC_SUBST([EI_INCLUDEDIR])
  AC_SUBST([EI_LIBA])
])
