# liburing through pkg-config: the imported target PkgConfig::URING.
find_package(PkgConfig REQUIRED)
pkg_check_modules(URING REQUIRED IMPORTED_TARGET liburing>=2.3)
