#!/bin/sh
# no_cxx.sh - stands for tests/link/test_cxx when configure found no C++
# compiler: the test is skipped, and says why.
echo "SKIP: no C++ compiler (install g++ and run configure again)"
exit 77
