/* A do-nothing socketmap server: one thread, epoll, answers every complete request netstring with
 * the same fixed reply. The machine's ceiling for tests/bench/socketmap/loadgen.
 *
 *   nothing_server (--unix PATH | --tcp HOST:PORT)
 *
 * Not part of ctest. It trusts its client (the load generator): no limits beyond a buffer cap. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define REPLY "OK secure match=mx.bench.example servername=hostname"
#define BUF_MAX 65536

struct conn {
  int fd;
  size_t len;
  char in[BUF_MAX];
  char out[BUF_MAX * 2];
};

static void die(const char* what) {
  perror(what);
  exit(2);
}

static void nonblock(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int main(int argc, char** argv) {
  int lfd;
  signal(SIGPIPE, SIG_IGN);
  if (argc == 3 && strcmp(argv[1], "--unix") == 0) {
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", argv[2]);
    unlink(argv[2]);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(lfd, (struct sockaddr*)&sa, sizeof sa) != 0) die("bind");
  } else if (argc == 3 && strcmp(argv[1], "--tcp") == 0) {
    char host[256];
    const char* colon = strrchr(argv[2], ':');
    struct sockaddr_in sa;
    int one = 1;
    if (!colon || (size_t)(colon - argv[2]) >= sizeof host) die("address");
    memcpy(host, argv[2], (size_t)(colon - argv[2]));
    host[colon - argv[2]] = 0;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) die("inet_pton");
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr*)&sa, sizeof sa) != 0) die("bind");
  } else {
    fprintf(stderr, "usage: nothing_server (--unix PATH | --tcp HOST:PORT)\n");
    return 2;
  }
  if (listen(lfd, 1024) != 0) die("listen");
  nonblock(lfd);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  char reply[128];
  int reply_len = snprintf(reply, sizeof reply, "%zu:%s,", strlen(REPLY), REPLY);
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; ++i) {
      struct conn* c = events[i].data.ptr;
      if (c == NULL) {
        int fd;
        while ((fd = accept(lfd, NULL, NULL)) >= 0) {
          int one = 1;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          nonblock(fd);
          c = calloc(1, sizeof *c);
          c->fd = fd;
          struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      ssize_t r = read(c->fd, c->in + c->len, BUF_MAX - c->len);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        close(c->fd);
        free(c);
        continue;
      }
      c->len += (size_t)r;
      size_t at = 0, out = 0;
      for (;;) { /* count complete netstrings */
        size_t len = 0, j = at;
        while (j < c->len && c->in[j] >= '0' && c->in[j] <= '9') len = len * 10 + (size_t)(c->in[j++] - '0');
        if (j >= c->len || c->in[j] != ':' || j + 1 + len + 1 > c->len) break;
        at = j + 1 + len + 1;
        if (out + (size_t)reply_len > sizeof c->out) break;
        memcpy(c->out + out, reply, (size_t)reply_len);
        out += (size_t)reply_len;
      }
      memmove(c->in, c->in + at, c->len - at);
      c->len -= at;
      if (c->len == BUF_MAX) c->len = 0; /* garbage: drop */
      size_t done = 0;
      while (done < out) {
        ssize_t w = write(c->fd, c->out + done, out - done);
        if (w <= 0) break; /* the load generator reads promptly; a stalled peer just loses replies */
        done += (size_t)w;
      }
    }
  }
}
