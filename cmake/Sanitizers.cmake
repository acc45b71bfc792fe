# CORIO_SANITIZE: '' | 'address,undefined' | 'thread'.
# The runtime annotates every fiber switch for ASan and TSan (runtime/context.c),
# so these builds see coroutine stacks as the stacks they are.
set(CORIO_SANITIZE "" CACHE STRING "'' | 'address,undefined' | 'thread'")
if(CORIO_SANITIZE)
  add_compile_options(-fsanitize=${CORIO_SANITIZE} -fno-omit-frame-pointer
                      -fno-sanitize-recover=all -g)
  add_link_options(-fsanitize=${CORIO_SANITIZE})
  if(CORIO_SANITIZE MATCHES "address")
    add_compile_definitions(CORIO_ASAN=1)
  endif()
  if(CORIO_SANITIZE MATCHES "thread")
    add_compile_definitions(CORIO_TSAN=1)
  endif()
endif()
