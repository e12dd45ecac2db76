/*
 * tcp_client.c - connects to the TCP server, then reads lines from the keyboard,
 * sends each one and prints the upper-case answer.
 *
 * A rewrite of the classic teaching program: socket -> connect -> loop { send ->
 * recv } -> close, to 127.0.0.1:48763. Typing "exit" sends "exit" (which stops the
 * server) and ends the client. The calls, their order and the printed lines are
 * kept; the comments marked "Fix:" say what the classic version got wrong.
 *
 * Message boundaries. TCP carries a stream of bytes, not messages, so both sides
 * agree on a terminator: a message is one line ending in '\n', in both directions
 * (see tcp_server.c for why). The line read by fgets() already ends in '\n', so it
 * is sent as it is; the answer is read until its '\n', however many recv() calls
 * that takes.
 *
 * Usage: tcp_client [HOST] [PORT]
 *   HOST  IPv4 address of the server, defaults to 127.0.0.1
 *   PORT  defaults to 48763
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
#define serverIP "127.0.0.1"

#define BUF_SIZE 1024
/* The longest message: a line of MAX_MSG characters, its '\n' and the '\0' that
 * fgets() adds fill BUF_SIZE exactly. This is also the server's limit. */
#define MAX_MSG (BUF_SIZE - 2)

/*
 * Sends all len bytes at data, or fails.
 * Fix: the classic client called send() once and took any non-negative result as
 * success, but send() on a stream socket may send fewer bytes than asked: the rest
 * must be sent by calling it again.
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

int main(int argc, char *argv[])
{
    const char *host = serverIP;
    unsigned short port = serverPort;

    if (argc > 3) {
        fprintf(stderr, "usage: %s [HOST] [PORT]\n", argv[0]);
        return 2;
    }
    if (argc > 1)
        host = argv[1];
    if (argc > 2 && (port = parse_port(argv[2])) == 0) {
        fprintf(stderr, "%s: invalid port '%s' (expected 1-65535)\n", argv[0], argv[2]);
        return 2;
    }

    /* Fix: if the server goes away, send() raises SIGPIPE, which kills the client
     * without a word. Ignored, send() fails with EPIPE and the error is reported. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        perror("signal(SIGPIPE) failed");
        return 1;
    }

    // message buffer
    char buf[BUF_SIZE] = {0};
    char recvbuf[BUF_SIZE] = {0};
    /* How many bytes at the start of recvbuf have been received but not yet printed. */
    size_t received = 0;

    // create the socket
    int socket_fd = socket(PF_INET, SOCK_STREAM, 0);
    if (socket_fd < 0) {
        perror("Create socket fail!");
        return 1;
    }

    // server address
    struct sockaddr_in serverAddr = {
        .sin_family = AF_INET,
        .sin_port = htons(port)
    };
    /* Fix: the classic version used inet_addr(), which cannot report a bad address:
     * its error value INADDR_NONE is also the valid address 255.255.255.255.
     * inet_pton() says plainly whether the text was an IPv4 address. */
    if (inet_pton(AF_INET, host, &serverAddr.sin_addr) != 1) {
        fprintf(stderr, "%s: invalid IPv4 address '%s'\n", argv[0], host);
        close(socket_fd);
        return 2;
    }
    socklen_t len = sizeof(serverAddr);

    // connect to the server: this starts the TCP three-way handshake
    // -1 usually means the server is not listening (yet)
    /* Fix: say why (perror) and exit with a non-zero status, not 0. */
    if (connect(socket_fd, (struct sockaddr *)&serverAddr, len) == -1) {
        perror("Connect server failed!");
        close(socket_fd);
        return 1;
    }

    printf("Connect server [%s:%d] success\n",
           inet_ntoa(serverAddr.sin_addr), ntohs(serverAddr.sin_port));

    int status = 0;
    while (1) {
        // read a line into the buffer
        printf("Please input your message: ");
        /* The prompt has no '\n', so push it out before waiting for input. */
        fflush(stdout);
        if (fgets(buf, sizeof(buf), stdin) == NULL) {
            /* Fix: the classic version called every NULL "Error reading input". End of
             * input (Ctrl-D) is a normal way to stop; only a real error is one. */
            if (ferror(stdin)) {
                perror("Error reading input");
                status = 1;
            }
            break;
        }
        size_t msglen = strlen(buf);
        if (buf[msglen - 1] != '\n') {
            if (!feof(stdin)) {
                /* fgets() filled buf and the line goes on: drop the rest of it. The
                 * server would refuse a line this long anyway. */
                int c;
                while ((c = getchar()) != '\n' && c != EOF)
                    ;
                fprintf(stderr, "message too long (at most %d characters), not sent\n", MAX_MSG);
                continue;
            }
            /* The last line of the input had no '\n': add the terminator. There is
             * room, as fgets() stopped at the end of input, not at the end of buf. */
            buf[msglen++] = '\n';
            buf[msglen] = '\0';
        }

        // send it to the server, '\n' included: the '\n' marks where the message ends
        /* Fix: the classic version sent sizeof(buf) bytes: all 1024 bytes of the
         * buffer, the text and then whatever followed it, so the server saw one huge
         * message full of '\0's (or, as TCP may split and join writes, pieces of
         * several). We send the line's bytes, all of them (send_all). */
        if (send_all(socket_fd, buf, msglen) < 0) {
            fprintf(stderr, "send data to %s:%d, failed: ",
                    inet_ntoa(serverAddr.sin_addr), ntohs(serverAddr.sin_port));
            perror(NULL);
            status = 1;
            break;
        }

        // "exit" ends the client (and the server)
        /* Fix: the classic version compared the fgets() line with strcmp(buf, "exit"),
         * but that line is "exit\n", so typing exit never ended the client. We compare
         * the text before the line break. */
        if (strcspn(buf, "\r\n") == strlen("exit") && strncmp(buf, "exit", 4) == 0)
            break;

        // wait for the server's upper-case answer: read until its '\n'
        /* Fix: the classic version called recv() once and printed whatever came,
         * trusting the buffer to be zeroed for a '\0'. But an answer may arrive in
         * pieces (TCP has no message boundaries), and recv() returning 0 (the server
         * closed) went unnoticed, so the client printed empty answers for ever. We
         * read until the '\n', keep track of the byte count, and stop on 0. */
        char *newline;
        while ((newline = memchr(recvbuf, '\n', received)) == NULL) {
            if (received == sizeof(recvbuf) - 1) {
                fprintf(stderr, "answer from %s:%d is longer than %d bytes\n",
                        inet_ntoa(serverAddr.sin_addr), ntohs(serverAddr.sin_port), MAX_MSG);
                status = 1;
                break;
            }
            ssize_t n = recv(socket_fd, recvbuf + received, sizeof(recvbuf) - 1 - received, 0);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                fprintf(stderr, "recv data from %s:%d, failed: ",
                        inet_ntoa(serverAddr.sin_addr), ntohs(serverAddr.sin_port));
                perror(NULL);
                status = 1;
                break;
            }
            if (n == 0) {
                fprintf(stderr, "server %s:%d closed the connection\n",
                        inet_ntoa(serverAddr.sin_addr), ntohs(serverAddr.sin_port));
                status = 1;
                break;
            }
            received += (size_t)n;
        }
        if (newline == NULL)
            break;  /* the error was reported above */
        *newline = '\0';

        // show the server's address and the answer
        printf("get receive message from [%s:%d]: %s\n",
               inet_ntoa(serverAddr.sin_addr), ntohs(serverAddr.sin_port), recvbuf);

        // keep any bytes after the '\n' for the next answer
        size_t used = (size_t)(newline - recvbuf) + 1;
        memmove(recvbuf, recvbuf + used, received - used);
        received -= used;
    }

    // close the socket, and check that it closed
    if (close(socket_fd) < 0) {
        perror("close socket failed!");
        status = 1;
    }

    return status;
}
