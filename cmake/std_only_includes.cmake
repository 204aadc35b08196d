# The include graph of core, parse and include/tlsfence: every file the compiler opens for
# them must be theirs or part of the allowlist (the C++ standard library and the C library it
# uses, plus the few headers TlsfenceStdOnly.cmake explains). Run by the ctest
# `std_only_core_parse`:
#   cmake -DCXX=… -DSOURCE_DIR=… -DBINARY_DIR=… [-DEXTRA_INCLUDES=dir;dir] -P std_only_includes.cmake
# Fails naming the file and the header it reached, e.g. a Boost header through a project one.

cmake_minimum_required(VERSION 3.25)

set(std_headers
  algorithm any array atomic barrier bit bitset cassert cctype cerrno cfenv cfloat charconv chrono
  cinttypes climits clocale cmath codecvt compare complex concepts condition_variable coroutine
  csetjmp csignal cstdarg cstddef cstdint cstdio cstdlib cstring ctime cuchar cwchar cwctype deque
  exception execution filesystem format forward_list fstream functional future initializer_list
  iomanip ios iosfwd iostream istream iterator latch limits list locale map memory memory_resource
  mutex new numbers numeric optional ostream queue random ranges ratio regex scoped_allocator
  semaphore set shared_mutex source_location span sstream stack stdexcept stop_token streambuf
  string string_view syncstream system_error thread tuple type_traits typeindex typeinfo
  unordered_map unordered_set utility valarray variant vector version)
# Besides the standard library (see TlsfenceStdOnly.cmake for why each is allowed).
set(extra_headers arpa/inet.h idn2.h nlohmann/json.hpp libmilter/mfdef.h)

set(includes -I${SOURCE_DIR}/include -I${SOURCE_DIR}/src -I${BINARY_DIR}/generated)
foreach(d IN LISTS EXTRA_INCLUDES)
  list(APPEND includes -I${d})
endforeach()

# The files the compiler opens for `file` (make-style -M output), normalised.
function(dependencies file out)
  execute_process(COMMAND ${CXX} -std=c++20 -x c++ -M ${includes} ${file}
    RESULT_VARIABLE rc OUTPUT_VARIABLE text ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cannot preprocess ${file}:\n${err}")
  endif()
  string(REGEX REPLACE "^[^:]*:" "" text "${text}")
  string(REPLACE "\\\n" " " text "${text}")
  string(REGEX REPLACE "[ \t\r\n]+" ";" text "${text}")
  set(paths "")
  foreach(p IN LISTS text)
    if(p)
      file(REAL_PATH "${p}" real)
      list(APPEND paths "${real}")
    endif()
  endforeach()
  set(${out} "${paths}" PARENT_SCOPE)
endfunction()

set(probe "${BINARY_DIR}/std_only_probe.cc")
set(text "")
foreach(h IN LISTS std_headers extra_headers)
  string(APPEND text "#if __has_include(<${h}>)\n#include <${h}>\n#endif\n")
endforeach()
file(WRITE "${probe}" "${text}")
dependencies("${probe}" allowed)

file(GLOB files ${SOURCE_DIR}/src/core/*.cc ${SOURCE_DIR}/src/core/*.h ${SOURCE_DIR}/src/parse/*.cc
  ${SOURCE_DIR}/src/parse/*.h ${SOURCE_DIR}/include/tlsfence/*.h)
set(own ${SOURCE_DIR}/src/core ${SOURCE_DIR}/src/parse ${SOURCE_DIR}/include/tlsfence ${BINARY_DIR}/generated)
set(failures 0)
foreach(f IN LISTS files)
  dependencies("${f}" deps)
  set(reported 0)
  foreach(d IN LISTS deps)
    if(d STREQUAL f OR d IN_LIST allowed)
      continue()
    endif()
    set(ok FALSE)
    foreach(dir IN LISTS own)
      cmake_path(IS_PREFIX dir "${d}" NORMALIZE inside)
      if(inside)
        set(ok TRUE)
      endif()
    endforeach()
    if(NOT ok)
      math(EXPR failures "${failures} + 1")
      math(EXPR reported "${reported} + 1")
      if(reported LESS_EQUAL 3)  # the first ones name the way in; the rest follow from them
        message(SEND_ERROR "${f} reaches ${d}: core, parse and include/tlsfence use the standard "
                           "library only (allowlist: cmake/std_only_includes.cmake)")
      endif()
    endif()
  endforeach()
endforeach()
list(LENGTH files n)
if(failures GREATER 0)
  message(FATAL_ERROR "${failures} dependencies outside the standard library")
endif()
message(STATUS "${n} files of core, parse and include/tlsfence: standard library only")
