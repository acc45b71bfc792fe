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
