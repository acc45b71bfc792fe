# One place for the warning flags: -Wall -Wextra -Werror with gcc and clang.
add_compile_options(-Wall -Wextra -Werror
  $<$<COMPILE_LANGUAGE:C>:-Wstrict-prototypes>
  $<$<COMPILE_LANGUAGE:C>:-Wmissing-prototypes>)
# Frames larger than a guard page must still touch the guard page, or a stack
# overflow could jump over it (see docs/stacks.md).
add_compile_options(-fstack-clash-protection)
