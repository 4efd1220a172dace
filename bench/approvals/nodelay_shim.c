/* What-if for bench/approvals (RESULTS.md): TCP_NODELAY on every socket the server
 * accepts, without changing the server (LD_PRELOAD). Not a production tool.
 *
 *   gcc -shared -fPIC -O2 -o /tmp/nodelay.so bench/approvals/nodelay_shim.c -ldl
 *   bench/approvals/run.sh --server-wrapper "env LD_PRELOAD=/tmp/nodelay.so"
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*real_accept)(int, struct sockaddr *, socklen_t *);
static void nodelay(int fd) { int one = 1; if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); }
int accept4(int s, struct sockaddr *a, socklen_t *l, int f) {
  if (!real_accept4) real_accept4 = dlsym(RTLD_NEXT, "accept4");
  int fd = real_accept4(s, a, l, f); nodelay(fd); return fd;
}
int accept(int s, struct sockaddr *a, socklen_t *l) {
  if (!real_accept) real_accept = dlsym(RTLD_NEXT, "accept");
  int fd = real_accept(s, a, l); nodelay(fd); return fd;
}
