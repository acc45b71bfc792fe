/* corio.h - the one public header of corio.
 *
 * corio runs stackful coroutines on N worker threads that steal work from
 * each other, with io_uring carrying every wait for I/O and time.  Every
 * function returns >= 0 on success and a negative errno value on failure.
 * This header compiles as C11 and as C++17/20.
 */
#ifndef CORIO_H
#define CORIO_H

#define CORIO_VERSION_MAJOR 0
#define CORIO_VERSION_MINOR 1
#define CORIO_VERSION_PATCH 0

#include "corio/coro.h"
#include "corio/task.h"
#include "corio/io.h"
#include "corio/net.h"
#include "corio/sync.h"
#include "corio/frame.h"
#include "corio/stream.h"
#include "corio/signal.h"
#include "corio/dump.h"

#endif
