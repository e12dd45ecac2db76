/*
 * uppercase_server.c -- reference point for sockengine benchmarks.
 *
 * Why this exists: a throughput number for sockengine means little on its
 * own. This program is the fastest thing one thread can reasonably do on
 * this machine with the same protocol (uppercase echo), written with no
 * framework, no allocation on the hot path and no language runtime. Its
 * msgs/s is the "1.0x" against which sockengine's numbers are quoted, so
 * it deliberately stays naive where naive is the honest baseline:
 * level-triggered epoll, one shared receive buffer, and for UDP exactly one
 * recvfrom + one sendto per datagram (no recvmmsg/sendmmsg, no GSO), so the
 * reference measures the per-syscall cost a batching engine is meant to beat.
 * Its byte loop, though, is as fast as the engine's (see upcase()), so a ratio
 * compares socket handling, not two uppercase loops.
 *
 * With --framing (TCP only) it answers frames instead of bytes, as sockengine's
 * `framing` option does: `line` (a frame ends at LF; the LF and a CR before it
 * are not part of it; the answer is the uppercased frame and an LF) or
 * `length:4` (a 4-byte big-endian length, then that many bytes; the answer is
 * the same header and the uppercased payload). Still one recv and one send per
 * readiness: every complete frame of a read is answered in place in the
 * receive buffer, and the answers leave in one send. Only a frame cut by the
 * end of a read is kept, in a buffer of its connection's own, until the rest
 * arrives.
 *
 * Build: gcc -O2 -Wall -Wextra -o uppercase_server uppercase_server.c
 * Usage: uppercase_server tcp|udp PORT [HOST] [--framing line|length:4]
 *        (HOST defaults to 127.0.0.1)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define BUF_SIZE 65536
#define MAX_EVENTS 256
/*
 * The longest frame the framed modes accept (a line without its LF, a length
 * prefix's payload); a peer that announces or sends a longer one is
 * disconnected, so a connection holds at most this much. The benchmark's
 * frames are 63 B and 16 KiB.
 */
#define MAX_FRAME (1 << 20)
/* A kept partial frame: a line's bytes (<= MAX_FRAME) or a header and part of its payload. */
#define MAX_HELD (MAX_FRAME + 4)

enum framing { FRAMING_NONE, FRAMING_LINE, FRAMING_LENGTH4 };

/*
 * Per-connection state exists only because partial sends must be kept, and,
 * when framed, the start of a frame that the last read cut off.
 */
struct conn {
    int fd;
    char *pending;     /* bytes accepted from the peer but not yet sent back */
    size_t pend_len;
    size_t pend_off;
    int want_out;      /* EPOLLOUT currently armed */
    unsigned char *held; /* framed: an incomplete frame's bytes, NULL when none */
    size_t held_len;
};

static volatile sig_atomic_t g_stop = 0;
/*
 * One receive buffer for all connections. A framed read lands after the
 * connection's held partial frame, which is copied in front of it, so a frame
 * is always contiguous: hence the room for MAX_HELD more bytes. Unframed reads
 * use the first BUF_SIZE bytes only (the rest is never touched, so costs no RSS).
 */
static unsigned char g_buf[MAX_HELD + BUF_SIZE];
static int g_listen_fd = -1; /* registered with data.ptr == NULL */
static enum framing g_framing = FRAMING_NONE;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/*
 * ASCII a-z to A-Z, every other byte unchanged. Branch-free, the same loop as the engine's
 * native/handlers/uppercase.cc, and compiled at -O3 like the addon, so GCC vectorizes it
 * (16 bytes per step). The first version tested `c >= 'a' && c <= 'z'` per byte: on mixed
 * text that branch mispredicts, and with 16 KiB messages the loop, not the sockets, set the
 * reference's pace: 24-30 us of server CPU per message and about 30,000 msg/s on
 * tcp 10 x 16 KiB x 4, against 6.7 us and about 140,000 msg/s with this loop.
 */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("O3")))
#endif
static void upcase(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        /* (c - 'a') wraps below 'a', so one unsigned compare tests a..z. */
        unsigned char lower = (unsigned char)(c - 'a') < 26;
        p[i] = (unsigned char)(c - (lower << 5));
    }
}

static int parse_addr(const char *host, const char *port_s, struct sockaddr_in *sa)
{
    char *end;
    long port = strtol(port_s, &end, 10);
    if (*port_s == '\0' || *end != '\0' || port < 0 || port > 65535)
        return -1;
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return -1;
    return 0;
}

static void announce(const char *proto, int fd, const char *host)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        die("getsockname");
    printf("listening %s %s:%u\n", proto, host, (unsigned)ntohs(sa.sin_port));
    fflush(stdout);
}

static void conn_close(int ep, struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->pending);
    free(c->held);
    free(c);
}

static int set_out(int ep, struct conn *c, int on)
{
    struct epoll_event ev;
    if (c->want_out == on)
        return 0;
    /*
     * While a backlog is pending, wait for writability only: leaving EPOLLIN
     * armed under level triggering would spin on data we refuse to read.
     */
    ev.events = on ? EPOLLOUT : EPOLLIN;
    ev.data.ptr = c;
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        return -1;
    c->want_out = on;
    return 0;
}

/* Send as much as possible; returns bytes sent, or -1 on a fatal error. */
static ssize_t send_some(int fd, const unsigned char *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(fd, p + off, n - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        return -1;
    }
    return (ssize_t)off;
}

/* Append to the pending buffer (data that could not be sent yet). */
static int pend_append(struct conn *c, const unsigned char *p, size_t n)
{
    size_t live = c->pend_len - c->pend_off;
    char *nb = malloc(live + n);
    if (!nb)
        return -1;
    if (live)
        memcpy(nb, c->pending + c->pend_off, live);
    memcpy(nb + live, p, n);
    free(c->pending);
    c->pending = nb;
    c->pend_off = 0;
    c->pend_len = live + n;
    return 0;
}

/* Returns -1 if the connection must be closed. */
static int flush_pending(int ep, struct conn *c)
{
    size_t live = c->pend_len - c->pend_off;
    ssize_t w = send_some(c->fd, (unsigned char *)c->pending + c->pend_off, live);
    if (w < 0)
        return -1;
    c->pend_off += (size_t)w;
    if (c->pend_off == c->pend_len) {
        free(c->pending);
        c->pending = NULL;
        c->pend_len = c->pend_off = 0;
        return set_out(ep, c, 0);
    }
    return 0;
}

/* Returns -1 if the connection must be closed. */
static int on_readable(int ep, struct conn *c)
{
    /*
     * Level-triggered: one read per wakeup is enough; if more is queued the
     * next epoll_wait reports it again. While a backlog is pending we stop
     * reading so a peer that never reads cannot grow our memory without
     * bound (TCP flow control pushes back on it instead).
     */
    if (c->pend_len != c->pend_off)
        return 0;
    for (;;) {
        ssize_t r = recv(c->fd, g_buf, BUF_SIZE, 0);
        if (r > 0) {
            upcase(g_buf, (size_t)r);
            ssize_t w = send_some(c->fd, g_buf, (size_t)r);
            if (w < 0)
                return -1;
            if ((size_t)w < (size_t)r) {
                if (pend_append(c, g_buf + w, (size_t)r - (size_t)w) < 0)
                    return -1;
                return set_out(ep, c, 1);
            }
            return 0;
        }
        if (r == 0)
            return -1; /* EOF */
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return -1;
    }
}

/*
 * Answers every complete line in buf[0, len) in place: each line, without its
 * LF and a CR before it, uppercased and followed by an LF, moved down over the
 * CRs dropped so far (without a CR nothing moves). Sets *consumed to the end
 * of the last complete line; returns the answers' length, or -1 for a line
 * longer than MAX_FRAME.
 */
static ssize_t answer_lines(unsigned char *buf, size_t len, size_t *consumed)
{
    size_t start = 0;
    size_t out = 0;
    const unsigned char *lf;
    while ((lf = memchr(buf + start, '\n', len - start)) != NULL) {
        size_t end = (size_t)(lf - buf);
        size_t next = end + 1;
        if (end > start && buf[end - 1] == '\r')
            end--;
        size_t n = end - start;
        if (n > MAX_FRAME)
            return -1;
        upcase(buf + start, n);
        if (out != start)
            memmove(buf + out, buf + start, n);
        out += n;
        buf[out++] = '\n';
        start = next;
    }
    if (len - start > MAX_FRAME)
        return -1;
    *consumed = start;
    return (ssize_t)out;
}

/*
 * Answers every complete length-prefixed frame in buf[0, len) in place: the
 * header stays, the payload is uppercased. Sets *consumed to the end of the
 * last complete frame and returns it (the answers are the same bytes), or -1
 * for a header announcing more than MAX_FRAME.
 */
static ssize_t answer_length4(unsigned char *buf, size_t len, size_t *consumed)
{
    size_t start = 0;
    while (len - start >= 4) {
        const unsigned char *h = buf + start;
        size_t n = ((size_t)h[0] << 24) | ((size_t)h[1] << 16) | ((size_t)h[2] << 8) | (size_t)h[3];
        if (n > MAX_FRAME)
            return -1;
        if (len - start - 4 < n)
            break;
        upcase(buf + start + 4, n);
        start += 4 + n;
    }
    *consumed = start;
    return (ssize_t)start;
}

/* Framed on_readable: returns -1 if the connection must be closed. */
static int on_readable_framed(int ep, struct conn *c)
{
    if (c->pend_len != c->pend_off)
        return 0;
    ssize_t r;
    for (;;) {
        r = recv(c->fd, g_buf + c->held_len, BUF_SIZE, 0);
        if (r > 0)
            break;
        if (r == 0)
            return -1; /* EOF; a partial frame dies with the connection */
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return -1;
    }
    size_t len = c->held_len + (size_t)r;
    if (c->held) {
        memcpy(g_buf, c->held, c->held_len);
        free(c->held);
        c->held = NULL;
        c->held_len = 0;
    }
    size_t consumed = 0;
    ssize_t answers = g_framing == FRAMING_LINE ? answer_lines(g_buf, len, &consumed)
                                                : answer_length4(g_buf, len, &consumed);
    if (answers < 0)
        return -1; /* a frame over MAX_FRAME */
    if (consumed < len) {
        c->held_len = len - consumed;
        c->held = malloc(c->held_len);
        if (!c->held)
            return -1;
        memcpy(c->held, g_buf + consumed, c->held_len);
    }
    if (answers == 0)
        return 0;
    ssize_t w = send_some(c->fd, g_buf, (size_t)answers);
    if (w < 0)
        return -1;
    if (w < answers) {
        if (pend_append(c, g_buf + w, (size_t)(answers - w)) < 0)
            return -1;
        return set_out(ep, c, 1);
    }
    return 0;
}

static void accept_all(int ep)
{
    for (;;) {
        int fd = accept4(g_listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of resources: leave the rest in the backlog for now. */
                perror("accept4");
                return;
            }
            die("accept4");
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct conn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        struct epoll_event ev;
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
        }
    }
}


static int make_epoll(int fd, void *ptr)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    struct epoll_event ev;
    ev.events = EPOLLIN;
    ev.data.ptr = ptr;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        die("epoll_ctl");
    return ep;
}

/*
 * SIGINT/SIGTERM stay blocked except inside epoll_pwait, so a signal can
 * never slip in between the g_stop check and going to sleep.
 */
static int wait_events(int ep, struct epoll_event *evs, const sigset_t *waitmask)
{
    for (;;) {
        if (g_stop)
            return -1;
        int n = epoll_pwait(ep, evs, MAX_EVENTS, -1, waitmask);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            die("epoll_pwait");
    }
}

static int run_tcp(const struct sockaddr_in *sa, const char *host, const sigset_t *waitmask)
{
    int one = 1;
    g_listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (g_listen_fd < 0)
        die("socket");
    setsockopt(g_listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(g_listen_fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
        die("bind");
    if (listen(g_listen_fd, 1024) < 0)
        die("listen");
    int ep = make_epoll(g_listen_fd, NULL);
    announce("tcp", g_listen_fd, host);

    struct epoll_event evs[MAX_EVENTS];
    int n;
    while ((n = wait_events(ep, evs, waitmask)) >= 0) {
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c == NULL) {
                accept_all(ep);
                continue;
            }
            uint32_t e = evs[i].events;
            /* HUP: the peer is gone in both directions (or RST); ERR: fatal. */
            int bad = (e & (EPOLLHUP | EPOLLERR)) != 0;
            if (!bad && (e & EPOLLOUT))
                bad = flush_pending(ep, c) < 0;
            if (!bad && (e & EPOLLIN))
                bad = (g_framing == FRAMING_NONE ? on_readable(ep, c) : on_readable_framed(ep, c)) < 0;
            if (bad)
                conn_close(ep, c);
        }
    }
    /* Remaining connections are reclaimed by process exit. */
    close(ep);
    close(g_listen_fd);
    return 0;
}

static int run_udp(const struct sockaddr_in *sa, const char *host, const sigset_t *waitmask)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
        die("bind");
    int ep = make_epoll(fd, NULL);
    announce("udp", fd, host);

    struct epoll_event evs[MAX_EVENTS];
    struct sockaddr_storage peer;
    socklen_t plen;
    while (wait_events(ep, evs, waitmask) >= 0) {
        /* Drain the queue: one recvfrom and one sendto per datagram. */
        while (!g_stop) {
            plen = sizeof(peer);
            ssize_t r = recvfrom(fd, g_buf, BUF_SIZE, 0, (struct sockaddr *)&peer, &plen);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                /* ICMP-reported errors and the like: not fatal for a server. */
                continue;
            }
            upcase(g_buf, (size_t)r);
            for (;;) {
                ssize_t w = sendto(fd, g_buf, (size_t)r, MSG_NOSIGNAL,
                                   (struct sockaddr *)&peer, plen);
                if (w < 0 && errno == EINTR)
                    continue;
                /* EAGAIN etc.: UDP may drop, and so do we; the client copes. */
                break;
            }
        }
    }
    close(ep);
    close(fd);
    return 0;
}

static void usage(const char *argv0)
{
    fprintf(stderr, "usage: %s tcp|udp PORT [HOST] [--framing line|length:4]\n", argv0);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *positional[3];
    int npositional = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--framing") == 0) {
            if (i + 1 >= argc)
                usage(argv[0]);
            const char *name = argv[++i];
            if (strcmp(name, "line") == 0)
                g_framing = FRAMING_LINE;
            else if (strcmp(name, "length:4") == 0)
                g_framing = FRAMING_LENGTH4;
            else
                usage(argv[0]);
        } else if (npositional < 3) {
            positional[npositional++] = argv[i];
        } else {
            usage(argv[0]);
        }
    }
    if (npositional < 2)
        usage(argv[0]);
    const char *proto = positional[0];
    const char *host = npositional == 3 ? positional[2] : "127.0.0.1";
    int tcp;
    if (strcmp(proto, "tcp") == 0)
        tcp = 1;
    else if (strcmp(proto, "udp") == 0)
        tcp = 0;
    else
        usage(argv[0]);
    if (!tcp && g_framing != FRAMING_NONE)
        usage(argv[0]); /* datagrams are frames already */
    struct sockaddr_in sa;
    if (parse_addr(host, positional[1], &sa) < 0)
        usage(argv[0]);

    struct sigaction act;
    memset(&act, 0, sizeof(act));
    act.sa_handler = on_signal;
    sigemptyset(&act.sa_mask);
    sigaction(SIGINT, &act, NULL);
    sigaction(SIGTERM, &act, NULL);
    signal(SIGPIPE, SIG_IGN);

    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &block, &waitmask) < 0)
        die("sigprocmask");
    sigdelset(&waitmask, SIGINT);
    sigdelset(&waitmask, SIGTERM);

    return tcp ? run_tcp(&sa, host, &waitmask) : run_udp(&sa, host, &waitmask);
}
