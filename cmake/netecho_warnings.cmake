# Per-target warning flags (as fmt does), so third-party headers are not held to them.
function(netecho_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Wunused -Woverloaded-virtual
    -Wimplicit-fallthrough -Wformat=2)
  if(NETECHO_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
