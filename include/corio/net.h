/* corio/net.h - sockets by address string (the course's Socket
 * wrapper): parse, resolve, format, listen, dial.  The data calls are
 * those of corio/io.h (corio_accept, corio_recv, corio_send,
 * corio_send_all, corio_shutdown, corio_close).
 *
 * Addresses (docs/api/net.md):
 *   "HOST:PORT"     HOST an IPv4 address ("127.0.0.1:45000") or a name
 *                   ("localhost:7002", "example.org:443")
 *   "[IPV6]:PORT"   an IPv6 address ("[::1]:45000", "[::]:80")
 *   ":PORT", "PORT" every interface (0.0.0.0:PORT)
 *   "unix:PATH"     a Unix-domain stream socket ("unix:/run/echo.sock")
 *   "unix:@NAME"    an abstract Unix socket (no file; Linux)
 * Port 0 picks a free port (corio_sock_name says which).  Names are looked
 * up only by corio_addr_resolve, corio_listen and corio_dial, in the
 * blocking-call pool (a lookup may wait on DNS for seconds). */
#ifndef CORIO_NET_H
#define CORIO_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "corio/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Parse `addr` into *ss / *len, numeric hosts only (never waits; any
 *  thread).  Errors: -EINVAL (malformed, a port above 65535, or a host
 *  that is a name: corio_addr_error says which), -ENAMETOOLONG (a Unix
 *  path or abstract name over 107 bytes). */
CORIO_API int corio_addr_parse(const char *addr, struct sockaddr_storage *ss, socklen_t *len);

/** Why corio_addr_parse refuses `addr`, in words ("missing port (write
 *  HOST:PORT, :PORT or PORT)", "port out of range (0-65535)", "an IPv6
 *  host needs brackets (write [IPv6]:PORT)", "the host is a name: ...",
 *  ...), or NULL when it accepts it.  For a name, the other calls here
 *  look it up; what they refuse besides is in their errors.  A static
 *  string; any thread. */
CORIO_API const char *corio_addr_error(const char *addr);

/** A socket address and its length. */
typedef struct corio_sockaddr {
    struct sockaddr_storage ss;
    socklen_t len;
} corio_sockaddr;

/** Resolve `addr` into up to `max` addresses (out[0..n-1]), in the order
 *  the system's resolver prefers them (getaddrinfo, /etc/gai.conf): the
 *  count (>= 1).  A numeric address gives itself.  A name is looked up in
 *  the blocking-call pool: from a task only the task waits (it may
 *  suspend); a plain thread waits itself.  Errors: -EINVAL (malformed;
 *  out NULL or max 0), -ENAMETOOLONG, -ENOENT (no such name, or no
 *  address for it), -EAGAIN (the resolver failed for now: try again),
 *  -ENOMEM, -EIO (another resolver failure), -ECANCELED (the task was
 *  killed meanwhile), and those of corio_blocking. */
CORIO_API int corio_addr_resolve(const char *addr, corio_sockaddr *out, size_t max);

/** Format `sa` in the notation above into buf (NUL terminated): 0,
 *  -ENOSPC when it does not fit, -EAFNOSUPPORT for another family,
 *  -EINVAL (NULL, len 0, or salen too short).  An unnamed Unix socket is
 *  "unix:".  Any thread. */
CORIO_API int corio_addr_format(const struct sockaddr *sa, socklen_t salen, char *buf, size_t len);

/** corio_listen flags. */
#define CORIO_LISTEN_REUSEPORT 1u /**< SO_REUSEPORT: several listeners share the port */

/** A listening stream socket on `addr` (SO_REUSEADDR on TCP; a Unix path
 *  that exists and is a socket is replaced).  A name is resolved
 *  (corio_addr_resolve) and the first IPv4 address taken, else the first
 *  one.  backlog <= 0: SOMAXCONN.  The socket is non-blocking
 *  (O_NONBLOCK, close-on-exec), so that any number of tasks may
 *  corio_accept on it; a plain accept(2) on it gives EAGAIN when no
 *  connection is waiting.  Accepted sockets are blocking unless
 *  corio_accept is given SOCK_NONBLOCK.  Callable from any thread; from a
 *  task it may suspend while a name is looked up.  The descriptor, or
 *  -EINVAL (a malformed address, unknown flags), the errors of
 *  corio_addr_resolve, or the errno of socket/bind/listen (-EADDRINUSE,
 *  -EACCES...). */
CORIO_API int corio_listen(const char *addr, int backlog, unsigned flags);
/** A stream socket connected to `addr` (TCP_NODELAY on TCP), from a task
 *  (it suspends).  A name's addresses are tried in turn, in the
 *  resolver's order, until one connects; the timeout is for the whole
 *  dial, and a timeout or a kill ends it.  The descriptor, or the error
 *  of the last attempt (-ECONNREFUSED, -ENETUNREACH, ...), -ETIMEDOUT,
 *  -ECANCELED, the errors of corio_addr_resolve and of corio/io.h. */
CORIO_API int corio_dial(const char *addr, int64_t timeout_ns);
/** The local / peer address of a socket in the notation above, in buf
 *  (NUL terminated): 0, -EINVAL (buf NULL or len 0), -ENOSPC when it
 *  does not fit, or the errno of getsockname / getpeername (-ENOTCONN:
 *  no peer).  Any thread. */
CORIO_API int corio_sock_name(int fd, char *buf, size_t len);
CORIO_API int corio_peer_name(int fd, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
