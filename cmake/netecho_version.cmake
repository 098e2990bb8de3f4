# The version has one home: project(VERSION) in the top CMakeLists.txt. It reaches the binary
# (`netecho --version`) through a generated header, and the man pages through the same value.
# debian/changelog must name the same version (the package is native, so no Debian revision):
# the configure step fails when they differ, so a release cannot ship two numbers. The date of
# the changelog's top entry dates the man pages, which keeps the build reproducible.
file(STRINGS "${PROJECT_SOURCE_DIR}/debian/changelog" _changelog_first LIMIT_COUNT 1)
string(REGEX MATCH "^netecho \\(([^)]+)\\)" _ "${_changelog_first}")
set(_changelog_version "${CMAKE_MATCH_1}")
if(NOT _changelog_version STREQUAL PROJECT_VERSION)
  message(FATAL_ERROR "debian/changelog's top entry is version '${_changelog_version}', but "
                      "project(VERSION) says '${PROJECT_VERSION}': make them agree "
                      "(dch -v ${PROJECT_VERSION})")
endif()
file(STRINGS "${PROJECT_SOURCE_DIR}/debian/changelog" _changelog_trailer REGEX "^ -- " LIMIT_COUNT 1)
string(REGEX MATCH "[0-9][0-9]? [A-Z][a-z][a-z] [0-9][0-9][0-9][0-9]" NETECHO_RELEASE_DAY
       "${_changelog_trailer}")
if(NETECHO_RELEASE_DAY STREQUAL "")
  message(FATAL_ERROR "debian/changelog: no date in the top entry's trailer line")
endif()
set(NETECHO_VERSION "${PROJECT_VERSION}")
configure_file("${PROJECT_SOURCE_DIR}/src/base/version.hpp.in"
               "${PROJECT_BINARY_DIR}/generated/base/version.hpp" @ONLY)
