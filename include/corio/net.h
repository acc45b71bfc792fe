/* corio/net.h - sockets by address string (seed slide 185's Socket
 * wrapper): parse, listen, dial.  The data calls are those of corio/io.h
 * (corio_accept, corio_recv, corio_send, corio_send_all, corio_shutdown,
 * corio_close).
 *
 * Addresses: "HOST:PORT" for IPv4 ("127.0.0.1:45000", "0.0.0.0:80"),
 * "[HOST]:PORT" for IPv6 ("[::1]:45000"), "unix:PATH" for a Unix-domain
 * stream socket ("unix:/run/echo.sock").  Hosts are numeric (no name
 * lookup: that blocks; run getaddrinfo in the blocking-call pool).  Port 0
 * picks a free port (corio_sock_name says which). */
#ifndef CORIO_NET_H
#define CORIO_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "corio/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Parse `addr` into *ss / *len.  -EINVAL for a malformed address or a
 *  port above 65535, -ENAMETOOLONG for a Unix path that does not fit. */
CORIO_API int corio_addr_parse(const char *addr, struct sockaddr_storage *ss, socklen_t *len);

/** corio_listen flags. */
#define CORIO_LISTEN_REUSEPORT 1u /**< SO_REUSEPORT: several listeners share the port */

/** A listening stream socket on `addr` (SO_REUSEADDR on TCP; a Unix path
 *  that exists and is a socket is replaced).  backlog <= 0: SOMAXCONN.
 *  The socket is non-blocking (O_NONBLOCK, close-on-exec), so that any
 *  number of tasks may corio_accept on it; a plain accept(2) on it gives
 *  EAGAIN when no connection is waiting.  Accepted sockets are blocking
 *  unless corio_accept is given SOCK_NONBLOCK.
 *  Callable from any thread (nothing here waits).  The descriptor, or
 *  -EINVAL, or the errno of socket/bind/listen (-EADDRINUSE, -EACCES...). */
CORIO_API int corio_listen(const char *addr, int backlog, unsigned flags);

/** A stream socket connected to `addr` (TCP_NODELAY on TCP), from a task
 *  (corio_connect): the descriptor or a negative errno (-ECONNREFUSED,
 *  -ETIME, and the errors of corio/io.h). */
CORIO_API int corio_dial(const char *addr, int64_t timeout_ns);

/** The local address of a socket in the notation above, in buf (NUL
 *  terminated).  -ENOSPC when it does not fit, or the errno of
 *  getsockname. */
CORIO_API int corio_sock_name(int fd, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
