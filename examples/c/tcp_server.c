/*
 * tcp_server.c - a TCP server that answers every line it receives with its
 * upper-case form.
 *
 * A rewrite of the classic teaching program: socket -> bind -> listen -> loop {
 * accept -> loop { recv -> send } -> close }, on port 48763. The calls, their order
 * and the printed lines are kept; the comments marked "Fix:" say what the classic
 * version got wrong.
 *
 * Message boundaries. TCP carries a stream of bytes, not messages: one send() may
 * arrive in several recv()s, and several send()s may arrive in one recv(). The
 * classic server treated each recv() as one message, which only works while every
 * message happens to arrive in exactly one piece. This server reads lines instead:
 * a message is the text up to a '\n'. That is the smallest change that is correct:
 * the classic client already read each message with fgets(), newline included, so
 * it only has to send the bytes it read; and the server answers each line with the
 * upper-case line followed by '\n', so the client knows where an answer ends too.
 * A '\r' before the '\n' is dropped, so telnet-style clients work as well, and text
 * left without a '\n' when the client closes is answered as a last line.
 *
 * A line may hold at most MAX_MSG bytes. A longer line is not answered: the server
 * skips it up to its '\n' and answers "error: message too long" instead (lower case,
 * so it cannot be mistaken for an answer), and the connection stays usable.
 *
 * "exit". In the classic program "exit" jumped out of both loops (goto exit), so
 * it stops the whole server, not just one connection; this version does the same.
 * A client that disconnects without "exit" just ends its connection, and the server
 * goes back to accept() the next one. Clients are served one at a time.
 *
 * Usage: tcp_server [PORT] [ADDRESS]
 *   PORT     defaults to 48763
 *   ADDRESS  IPv4 address to listen on, defaults to every local address (INADDR_ANY)
 */
#include <arpa/inet.h>  /* sockaddr_in, htons, inet_ntoa, inet_pton */
#include <sys/socket.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define serverPort 48763

#define BUF_SIZE 1024
/* The longest line: its text, the '\n' and a '\0' fill BUF_SIZE exactly. */
#define MAX_MSG (BUF_SIZE - 2)

static const char TOO_LONG_REPLY[] = "error: message too long\n";

/* What handle_line() asks the connection loop to do next. */
enum next { NEXT_LINE, CLOSE_CONNECTION, STOP_SERVER, SERVER_ERROR };

/*
 * Returns a newly allocated copy of the len bytes at msg with ASCII a-z turned into
 * A-Z (every other byte unchanged), followed by a '\0'; NULL when out of memory.
 */
static char *convert(const char *msg, size_t len)
{
    char *conv = malloc(len + 1);
    if (conv == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        char c = msg[i];
        conv[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    conv[len] = '\0';
    return conv;
}

/*
 * Sends all len bytes at data, or fails.
 * Fix: the classic server called send() once and took any non-negative result as
 * success, but send() on a stream socket may send fewer bytes than asked (a full
 * socket buffer, a signal): the rest must be sent by calling it again.
 */
static int send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t sent = send(fd, data, len, 0);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += sent;
        len -= (size_t)sent;
    }
    return 0;
}

/* Parses a port number 1-65535; returns 0 when text is not one. */
static unsigned short parse_port(const char *text)
{
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 1 || value > 65535)
        return 0;
    return (unsigned short)value;
}

/*
 * Answers one line: the len bytes at line, without their '\n'. line[len] may be
 * overwritten.
 */
static enum next handle_line(int reply_sockfd, const struct sockaddr_in *clientAddr,
                             char *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    line[len] = '\0';

    // "exit" stops the server
    /* Fix: the classic client sent its fgets() line newline and all, and the server
     * compared the whole buffer with strcmp(buf, "exit"): "exit\n" never matched, so
     * "exit" never worked. We compare the line without its newline, by length. */
    if (len == strlen("exit") && memcmp(line, "exit", len) == 0) {
        printf("get exit order, closing the server...\n");
        return STOP_SERVER;
    }

    // turn the letters into upper case
    /* len + 1 bytes: the '\0' at line[len] is copied too, and its place in the copy
     * takes the '\n' that ends the answer. */
    char *conv = convert(line, len + 1);
    if (conv == NULL) {
        perror("convert failed");
        return SERVER_ERROR;
    }
    conv[len] = '\n';

    // show where the data came from, the original data and the converted data
    printf("get message from [%s:%d]: ",
           inet_ntoa(clientAddr->sin_addr), ntohs(clientAddr->sin_port));
    printf("%s -> %.*s\n", line, (int)len, conv);

    // send it back; a connected TCP socket needs no address
    /* Fix: the classic version passed sizeof(conv) as the length. conv is a char *,
     * so that is the size of a pointer (8 bytes on 64-bit), not of the text: long
     * answers were cut to 8 bytes and short ones sent bytes from past the end of the
     * allocation. The length is the line's, plus its '\n'. */
    enum next next = NEXT_LINE;
    if (send_all(reply_sockfd, conv, len + 1) < 0) {
        fprintf(stderr, "send data to %s:%d, failed: ",
                inet_ntoa(clientAddr->sin_addr), ntohs(clientAddr->sin_port));
        perror(NULL);
        next = CLOSE_CONNECTION;  /* this client's problem: serve the next one */
    }
    free(conv);
    return next;
}

/*
 * Receives lines from one client and answers each of them, until the client
 * closes, fails, or sends "exit".
 */
static enum next serve_client(int reply_sockfd, const struct sockaddr_in *clientAddr)
{
    // message buffer: bytes received but not yet answered
    char buf[BUF_SIZE];
    size_t used = 0;
    /* Set while skipping the rest of a line that was too long. */
    int skipping = 0;

    while (1) {
        /* Fix: the classic loop was while (recv(...)), which takes -1 (an error) for
         * "data arrived" and loops for ever on a broken connection. recv() returns
         * the byte count, 0 when the client has closed, or -1 on an error, and each
         * case is handled. Fix: the count also says how much of buf is valid, where
         * the classic version trusted the buffer to be zeroed, and a recv() that
         * filled all 1024 bytes left no '\0' for strcmp() and printf(). */
        ssize_t n = recv(reply_sockfd, buf + used, sizeof(buf) - 1 - used, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "recv data from %s:%d, failed: ",
                    inet_ntoa(clientAddr->sin_addr), ntohs(clientAddr->sin_port));
            perror(NULL);
            return CLOSE_CONNECTION;
        }
        if (n == 0) {
            /* The client closed its side. Answer a last line that had no '\n' (the
             * client may still be reading, having only shut down its sending side). */
            if (skipping) {
                if (send_all(reply_sockfd, TOO_LONG_REPLY, strlen(TOO_LONG_REPLY)) < 0)
                    perror("send failed");
                return CLOSE_CONNECTION;
            }
            if (used > 0)
                return handle_line(reply_sockfd, clientAddr, buf, used);
            return CLOSE_CONNECTION;
        }
        used += (size_t)n;

        /* Answer every complete line in buf. One recv() may hold part of a line,
         * exactly one line, or several lines and part of the next. */
        size_t start = 0;
        char *newline;
        while ((newline = memchr(buf + start, '\n', used - start)) != NULL) {
            size_t end = (size_t)(newline - buf);
            if (skipping) {
                /* The end of a line that was too long: refuse it now, in order. */
                skipping = 0;
                if (send_all(reply_sockfd, TOO_LONG_REPLY, strlen(TOO_LONG_REPLY)) < 0) {
                    perror("send failed");
                    return CLOSE_CONNECTION;
                }
            } else {
                enum next next = handle_line(reply_sockfd, clientAddr, buf + start, end - start);
                if (next != NEXT_LINE)
                    return next;
            }
            start = end + 1;
        }

        // keep the incomplete line at the start of buf, for the next recv() to extend
        memmove(buf, buf + start, used - start);
        used -= start;

        if (used == sizeof(buf) - 1) {
            /* buf is full and holds no '\n': the line is longer than MAX_MSG. */
            if (!skipping)
                printf("reject message from [%s:%d]: longer than %d bytes\n",
                       inet_ntoa(clientAddr->sin_addr), ntohs(clientAddr->sin_port), MAX_MSG);
            skipping = 1;
            used = 0;
        }
    }
}

int main(int argc, char *argv[])
{
    unsigned short port = serverPort;
    struct in_addr bindIP = { .s_addr = htonl(INADDR_ANY) };

    if (argc > 3) {
        fprintf(stderr, "usage: %s [PORT] [ADDRESS]\n", argv[0]);
        return 2;
    }
    if (argc > 1 && (port = parse_port(argv[1])) == 0) {
        fprintf(stderr, "%s: invalid port '%s' (expected 1-65535)\n", argv[0], argv[1]);
        return 2;
    }
    if (argc > 2 && inet_pton(AF_INET, argv[2], &bindIP) != 1) {
        fprintf(stderr, "%s: invalid IPv4 address '%s'\n", argv[0], argv[2]);
        return 2;
    }

    /* Fix: when stdout is a pipe or a file it is fully buffered, so the classic server's
     * lines only showed up when it exited. Line buffering prints each line at once. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* Fix: send() to a client that has already gone raises SIGPIPE, whose default
     * action kills the whole server. Ignored, send() fails with EPIPE instead and
     * only that connection is closed. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        perror("signal(SIGPIPE) failed");
        return 1;
    }

    // create the socket
    /* Fix: the classic version printed a message and carried on with socket_fd == -1. */
    int socket_fd = socket(PF_INET, SOCK_STREAM, 0);
    if (socket_fd < 0) {
        perror("Fail to create a socket");
        return 1;
    }

    /* Fix: after the server stops, its old connections wait in TIME_WAIT for a minute
     * or so, and without SO_REUSEADDR bind() fails with "Address already in use" if
     * the server is started again during that time. */
    int on = 1;
    if (setsockopt(socket_fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0) {
        perror("setsockopt SO_REUSEADDR failed");
        close(socket_fd);
        return 1;
    }

    // server address
    struct sockaddr_in serverAddr = {
        .sin_family = AF_INET,
        .sin_addr = bindIP,
        .sin_port = htons(port)
    };

    // bind the socket to the port in serverAddr
    /* Fix: the classic version exited with status 0 (telling a script that all went
     * well), and in the notes the closing brace of this if was missing. */
    if (bind(socket_fd, (const struct sockaddr *)&serverAddr, sizeof(serverAddr)) < 0) {
        perror("Bind socket failed!");
        close(socket_fd);
        return 1;
    }

    // get ready to accept connections
    // backlog = 5: at most five connections may wait for accept()
    /* Fix: report why listen() failed (perror), and exit with a non-zero status. */
    if (listen(socket_fd, 5) == -1) {
        perror("socket listen failed!");
        close(socket_fd);
        return 1;
    }

    printf("server [%s:%d] --- ready\n",
           inet_ntoa(serverAddr.sin_addr), ntohs(serverAddr.sin_port));

    int status = 0;
    enum next next = NEXT_LINE;
    while (next != STOP_SERVER && next != SERVER_ERROR) {
        int reply_sockfd;
        struct sockaddr_in clientAddr;
        /* Fix: the classic version declared this as int; accept() wants a socklen_t. */
        socklen_t client_len = sizeof(clientAddr);

        // take a connected socket from the completed connection queue;
        // reply_sockfd talks to that client from now on
        /* Fix: the classic version did not check accept() and went on to recv() from
         * descriptor -1. EINTR (a signal) and ECONNABORTED (the client gave up while
         * queued) are harmless: try again. Anything else is reported. */
        reply_sockfd = accept(socket_fd, (struct sockaddr *)&clientAddr, &client_len);
        if (reply_sockfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            perror("accept failed");
            status = 1;
            break;
        }
        printf("Accept connect request from [%s:%d]\n",
               inet_ntoa(clientAddr.sin_addr), ntohs(clientAddr.sin_port));

        next = serve_client(reply_sockfd, &clientAddr);
        if (next == SERVER_ERROR)
            status = 1;

        // close the reply socket, and check that it closed
        if (close(reply_sockfd) < 0) {
            perror("close socket failed!");
            status = 1;
            break;
        }
    }

    // close the listening socket, and check that it closed
    if (close(socket_fd) < 0) {
        perror("close socket failed!");
        status = 1;
    }

    return status;
}
