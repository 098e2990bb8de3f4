# The XDP fast path (src/io/xdp/): a BPF object compiled by clang's BPF target and embedded in
# the binary through a libbpf skeleton made by bpftool. Where clang, bpftool or libbpf are
# missing, netecho builds without it and `serve --xdp` says so; NETECHO_XDP=OFF leaves it out
# on purpose, NETECHO_XDP=ON makes a missing tool an error.
set(NETECHO_XDP AUTO CACHE STRING "Build the XDP fast path: AUTO (when the tools are here), ON, OFF")
set_property(CACHE NETECHO_XDP PROPERTY STRINGS AUTO ON OFF)

set(NETECHO_HAVE_XDP OFF)
if(NOT NETECHO_XDP STREQUAL "OFF")
  # clang 14 is the one Debian 12 tests; any clang with the BPF target will do.
  find_program(NETECHO_BPF_CLANG NAMES clang-14 clang)
  find_program(NETECHO_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin)
  pkg_check_modules(LIBBPF IMPORTED_TARGET libbpf>=1.0)
  set(_missing "")
  foreach(_what NETECHO_BPF_CLANG NETECHO_BPFTOOL)
    if(NOT ${_what})
      list(APPEND _missing ${_what})
    endif()
  endforeach()
  if(NOT LIBBPF_FOUND)
    list(APPEND _missing libbpf)
  endif()
  if(_missing)
    if(NETECHO_XDP STREQUAL "ON")
      message(FATAL_ERROR "NETECHO_XDP=ON but not found: ${_missing} (scripts/setup-debian.sh)")
    endif()
    message(STATUS "XDP fast path: off (not found: ${_missing})")
  else()
    set(NETECHO_HAVE_XDP ON)
    message(STATUS "XDP fast path: on (${NETECHO_BPF_CLANG}, ${NETECHO_BPFTOOL})")
  endif()
endif()

# Compiles source (a .bpf.c file) to a BPF object and makes its skeleton, <name>.skel.h, in
# out_dir. The UAPI headers (linux-libc-dev) describe the packets; asm/ lives in the
# multiarch directory.
function(netecho_bpf_skeleton name source out_dir)
  get_filename_component(_src ${source} ABSOLUTE)
  get_filename_component(_src_dir ${_src} DIRECTORY)
  set(_obj ${out_dir}/${name}.bpf.o)
  set(_skel ${out_dir}/${name}.skel.h)
  add_custom_command(OUTPUT ${_skel}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${NETECHO_BPF_CLANG} -target bpf -O2 -g -Wall -Wextra -Werror
            -I/usr/include/${CMAKE_LIBRARY_ARCHITECTURE} -I${_src_dir} -c ${_src} -o ${_obj}
    COMMAND ${NETECHO_BPFTOOL} gen skeleton ${_obj} name ${name} > ${_skel}
    DEPENDS ${_src} ${ARGN}
    COMMENT "Compiling the BPF program ${name} and its skeleton"
    VERBATIM)
endfunction()
