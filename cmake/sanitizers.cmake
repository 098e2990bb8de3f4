# NETECHO_SANITIZE is a comma-separated list passed to -fsanitize (e.g. "address,undefined").
set(NETECHO_SANITIZE "" CACHE STRING "Sanitizers to build with (-fsanitize=...)")
if(NETECHO_SANITIZE)
  add_compile_options(-fsanitize=${NETECHO_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${NETECHO_SANITIZE})
endif()
