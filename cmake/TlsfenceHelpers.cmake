# Helpers shared by every module's CMakeLists.txt.

# Warnings for project code only (not for third-party headers). They are errors only where
# TLSFENCE_WARNINGS_AS_ERRORS is ON: the project's presets and CI. A packager's or a user's plain
# `cmake -DCMAKE_BUILD_TYPE=Release` must build with any compiler's new or false warnings
# (g++ 12's -Wrestrict at -O3 in libstdc++'s string code, for one).
option(TLSFENCE_WARNINGS_AS_ERRORS "Treat compiler warnings in project code as errors" OFF)
set(TLSFENCE_WARNINGS -Wall -Wextra)
if(TLSFENCE_WARNINGS_AS_ERRORS)
  list(APPEND TLSFENCE_WARNINGS -Werror)
endif()
list(APPEND TLSFENCE_WARNINGS -Wno-missing-field-initializers)

# tlsfence_library(NAME SOURCES a.cc b.cc DEPS lib...)
#   A static library `tlsfence_NAME`; headers are found as "module/file.h" from src/
#   and as <tlsfence/file.h> from include/.
function(tlsfence_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(tlsfence_${name} STATIC ${A_SOURCES})
  target_include_directories(tlsfence_${name} PUBLIC
    ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src ${PROJECT_BINARY_DIR}/generated)
  target_compile_options(tlsfence_${name} PRIVATE ${TLSFENCE_WARNINGS})
  target_link_libraries(tlsfence_${name} PUBLIC ${A_DEPS})
endfunction()

# tlsfence_program(NAME SOURCES ... DEPS ...)
function(tlsfence_program name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_compile_options(${name} PRIVATE ${TLSFENCE_WARNINGS})
  target_link_libraries(${name} PRIVATE ${A_DEPS})
  install(TARGETS ${name} RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
endfunction()

# tlsfence_unit_test(NAME SOURCES ... DEPS ...) — a GoogleTest binary, each TEST a ctest case
# labelled "unit".
function(tlsfence_unit_test name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_compile_options(${name} PRIVATE ${TLSFENCE_WARNINGS})
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST PROPERTIES LABELS unit)
endfunction()

# tlsfence_fuzz_target(NAME SOURCES file.cc ... DEPS ... CORPUS dir [DICT file])
#   With TLSFENCE_FUZZ: a libFuzzer binary `fuzz_NAME` (part of the `fuzz_targets` target).
#   Otherwise: the same entry point linked with a replay main; ctest `fuzz_replay_NAME`
#   feeds it every file of the corpus directory (label "fuzz").
#   Either way the target, its corpus and its dictionary (DICT, default NAME.dict next to the
#   CMakeLists.txt, if present) are listed in <build>/fuzz-targets.tsv for tests/fuzz/run.sh.
function(tlsfence_fuzz_target name)
  cmake_parse_arguments(A "" "SOURCE;CORPUS;DICT" "SOURCES;DEPS" ${ARGN})
  add_executable(fuzz_${name} ${A_SOURCE} ${A_SOURCES})
  target_compile_options(fuzz_${name} PRIVATE ${TLSFENCE_WARNINGS})
  target_link_libraries(fuzz_${name} PRIVATE ${A_DEPS})
  if(NOT A_DICT AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${name}.dict)
    set(A_DICT ${CMAKE_CURRENT_SOURCE_DIR}/${name}.dict)
  endif()
  file(APPEND ${PROJECT_BINARY_DIR}/fuzz-targets.tsv
    "${name}\t${CMAKE_CURRENT_BINARY_DIR}/fuzz_${name}\t${A_CORPUS}\t${A_DICT}\n")
  if(TLSFENCE_FUZZ)
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
    if(NOT TARGET fuzz_targets)
      add_custom_target(fuzz_targets ALL)
    endif()
    add_dependencies(fuzz_targets fuzz_${name})
  else()
    target_sources(fuzz_${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.cc)
    add_test(NAME fuzz_replay_${name} COMMAND fuzz_${name} ${A_CORPUS})
    set_tests_properties(fuzz_replay_${name} PROPERTIES LABELS fuzz)
  endif()
endfunction()

# add_subdirectory() for every direct subdirectory of DIR that has a CMakeLists.txt,
# so modules and test folders can be added without editing a shared list.
function(tlsfence_add_subdirs dir)
  file(GLOB children RELATIVE ${dir} ${dir}/*)
  list(SORT children)
  foreach(child ${children})
    if(IS_DIRECTORY ${dir}/${child} AND EXISTS ${dir}/${child}/CMakeLists.txt)
      add_subdirectory(${dir}/${child})
    endif()
  endforeach()
endfunction()
