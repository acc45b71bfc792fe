# The static Boost.Context library, for its fcontext assembly only.
# find_package(Boost COMPONENTS context) would mark the dependency as C++ and
# make every C user link with the C++ driver, so the archive is found by path
# and wrapped in an IMPORTED target.  Only jump_fcontext / make_fcontext /
# ontop_fcontext are pulled out of it; they reference nothing but _exit.
find_library(CORIO_BOOST_CONTEXT_A NAMES libboost_context.a REQUIRED)
add_library(corio_fcontext STATIC IMPORTED)
set_target_properties(corio_fcontext PROPERTIES IMPORTED_LOCATION ${CORIO_BOOST_CONTEXT_A})
include(CheckCSourceCompiles)
set(CMAKE_REQUIRED_LIBRARIES ${CORIO_BOOST_CONTEXT_A})
check_c_source_compiles([=[
  typedef struct { void *fctx; void *data; } transfer_t;
  void *make_fcontext(void *sp, unsigned long size, void (*fn)(transfer_t));
  int main(void) { return make_fcontext(0, 0, 0) != 0; }
]=] CORIO_HAVE_FCONTEXT)
unset(CMAKE_REQUIRED_LIBRARIES)
if(NOT CORIO_HAVE_FCONTEXT)
  message(FATAL_ERROR "libboost_context.a found at ${CORIO_BOOST_CONTEXT_A} but make_fcontext does not link from C")
endif()

# The three fcontext objects themselves, taken out of the archive when the
# project is configured: libcorio.a carries them, so that a static link of
# corio needs liburing and pthreads only and a user never names Boost
# (docs/build.md, "Installing").  libcorio.so links the archive instead and
# keeps its symbols local (--exclude-libs).
set(CORIO_FCONTEXT_DIR ${PROJECT_BINARY_DIR}/fcontext)
file(MAKE_DIRECTORY ${CORIO_FCONTEXT_DIR})
execute_process(COMMAND ${CMAKE_AR} t ${CORIO_BOOST_CONTEXT_A}
  OUTPUT_VARIABLE _corio_members RESULT_VARIABLE _corio_rc OUTPUT_STRIP_TRAILING_WHITESPACE)
string(REPLACE "\n" ";" _corio_members "${_corio_members}")
list(FILTER _corio_members INCLUDE REGEX "^(jump|make|ontop)_.*[.]o(bj)?$")
list(LENGTH _corio_members _corio_n)
if(NOT _corio_rc EQUAL 0 OR NOT _corio_n EQUAL 3)
  message(FATAL_ERROR "expected the jump/make/ontop fcontext objects in ${CORIO_BOOST_CONTEXT_A}, "
    "found: ${_corio_members}")
endif()
execute_process(COMMAND ${CMAKE_AR} x ${CORIO_BOOST_CONTEXT_A} ${_corio_members}
  WORKING_DIRECTORY ${CORIO_FCONTEXT_DIR} RESULT_VARIABLE _corio_rc)
if(NOT _corio_rc EQUAL 0)
  message(FATAL_ERROR "could not extract the fcontext objects of ${CORIO_BOOST_CONTEXT_A}")
endif()
list(TRANSFORM _corio_members PREPEND ${CORIO_FCONTEXT_DIR}/ OUTPUT_VARIABLE CORIO_FCONTEXT_OBJECTS)
