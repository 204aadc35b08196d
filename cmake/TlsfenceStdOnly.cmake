# core and parse depend on the standard library only (STYLE.md): the check, at configure time.
#
# tlsfence_check_std_only() — deferred to the end of the top-level configure (so links added by
# any later CMakeLists.txt are seen) — fails the configure when tlsfence_core or tlsfence_parse
# links anything beyond its allowlist, or has a source file outside its own folder.
# The include graph (what the compiler actually opens) is checked by the ctest
# `std_only_core_parse` (cmake/std_only_includes.cmake).
#
# The allowlists, and why each entry is there:
#   core:  nothing.
#   parse: tlsfence_core; libidn2 (IDNA 2008 U-label → A-label, parse/domain.cc);
#          nlohmann_json (header only: libtlsrpt's JSON datagrams, parse/tlsrpt_datagram.cc);
#          libmilter's include directory (mfdef.h: the milter protocol's constants only,
#          no library).
function(tlsfence_check_std_only)
  set(TLSFENCE_STD_ONLY_ALLOWED_core "")
  set(TLSFENCE_STD_ONLY_ALLOWED_parse tlsfence_core PkgConfig::IDN2 nlohmann_json::nlohmann_json)
  foreach(lib core parse)
    set(target tlsfence_${lib})
    get_target_property(links ${target} LINK_LIBRARIES)
    get_target_property(ilinks ${target} INTERFACE_LINK_LIBRARIES)
    set(all "")
    foreach(l IN LISTS links ilinks)
      if(l AND NOT l MATCHES "-NOTFOUND$")
        string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" l "${l}")  # a static library's private link
        list(APPEND all "${l}")
      endif()
    endforeach()
    list(REMOVE_DUPLICATES all)
    foreach(l IN LISTS all)
      if(NOT l IN_LIST TLSFENCE_STD_ONLY_ALLOWED_${lib})
        message(FATAL_ERROR "${target} links ${l}: core and parse depend on the standard library only "
                            "(STYLE.md). Allowed for ${lib}: '${TLSFENCE_STD_ONLY_ALLOWED_${lib}}' "
                            "(cmake/TlsfenceStdOnly.cmake says why each is there).")
      endif()
    endforeach()
    get_target_property(sources ${target} SOURCES)
    get_target_property(source_dir ${target} SOURCE_DIR)
    foreach(s IN LISTS sources)
      cmake_path(ABSOLUTE_PATH s BASE_DIRECTORY ${source_dir} NORMALIZE OUTPUT_VARIABLE abs)
      cmake_path(IS_PREFIX source_dir "${abs}" NORMALIZE inside)
      if(NOT inside)
        message(FATAL_ERROR "${target} compiles ${abs}, outside ${source_dir}: core and parse hold only "
                            "their own standard-library-only sources.")
      endif()
    endforeach()
  endforeach()
endfunction()

cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL tlsfence_check_std_only)
