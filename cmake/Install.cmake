# cmake --install: the headers, libcorio.a, libcorio.so (versioned SONAME,
# only corio_* exported), the CMake package (find_package(corio) gives
# corio::corio, static, and corio::corio_shared) and corio.pc.
#
# The package finds what the targets need itself: pthreads (Threads) and
# liburing (pkg-config, as this project does: cmake/FindLiburing.cmake).
# Boost is not among them: libcorio.a carries the fcontext objects and
# libcorio.so keeps them inside (cmake/FindBoostContext.cmake).
include(CMakePackageConfigHelpers)

set(CORIO_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/corio)
set(CORIO_INSTALL_TARGETS corio)
if(CORIO_BUILD_SHARED)
  list(APPEND CORIO_INSTALL_TARGETS corio_shared)
endif()

install(TARGETS ${CORIO_INSTALL_TARGETS} EXPORT corioTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT Development
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")
install(EXPORT corioTargets NAMESPACE corio:: DESTINATION ${CORIO_CMAKE_DIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/corioConfig.cmake.in
  ${PROJECT_BINARY_DIR}/corioConfig.cmake INSTALL_DESTINATION ${CORIO_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/corioConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/corioConfig.cmake ${PROJECT_BINARY_DIR}/corioConfigVersion.cmake
  DESTINATION ${CORIO_CMAKE_DIR})

# corio.pc: `pkg-config --libs corio` links the shared library where it is
# installed; `pkg-config --static --libs corio` adds what libcorio.a needs.
# Relocatable: the prefix is found from the .pc file's own place
# (${pcfiledir}), so `cmake --install --prefix P` works for any P.
file(RELATIVE_PATH CORIO_PC_UP /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
configure_file(${PROJECT_SOURCE_DIR}/cmake/corio.pc.in ${PROJECT_BINARY_DIR}/corio.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/corio.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
