/*
 * udp_client.c - reads lines from the keyboard, sends each one to the UDP server as
 * a datagram and prints the upper-case answer.
 *
 * A rewrite of the classic teaching program: socket -> loop { sendto -> recvfrom }
 * -> close, to 127.0.0.1:48763. Typing "exit" sends "exit" (which stops the server)
 * and ends the client. The calls, their order and the printed lines are kept; the
 * comments marked "Fix:" say what the classic version got wrong.
 *
 * One line typed is one datagram, sent without its newline: UDP keeps message
 * boundaries, so the server needs no terminator to tell messages apart.
 *
 * Usage: udp_client [HOST] [PORT]
 *   HOST  IPv4 address of the server, defaults to 127.0.0.1
 *   PORT  defaults to 48763
 */
#include <arpa/inet.h>  /* sockaddr_in, htons, inet_ntoa, inet_pton */
#include <sys/socket.h>
#include <sys/time.h>   /* struct timeval */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define serverPort 48763
#define serverIP "127.0.0.1"

#define BUF_SIZE 1024
/* The longest message: a line of MAX_MSG characters, its '\n' and the '\0' that
 * fgets() adds fill BUF_SIZE exactly. */
#define MAX_MSG (BUF_SIZE - 2)

/* How long to wait for an answer before giving up. */
#define REPLY_TIMEOUT_SECONDS 5

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

    // message buffer
    char buf[BUF_SIZE] = {0};
    char recvbuf[BUF_SIZE] = {0};

    // create the socket
    int socket_fd = socket(PF_INET, SOCK_DGRAM, 0);
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

    /* Fix: UDP does not retransmit. If the server is not running, or a datagram is
     * lost, the classic client blocked in recvfrom() for ever. A receive timeout makes
     * recvfrom() fail with EAGAIN instead, which is reported below. */
    struct timeval timeout = { .tv_sec = REPLY_TIMEOUT_SECONDS, .tv_usec = 0 };
    if (setsockopt(socket_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) < 0) {
        perror("setsockopt SO_RCVTIMEO failed");
        close(socket_fd);
        return 1;
    }

    int status = 0;
    while (1) {
        // read a line into the buffer
        printf("Please input your message: ");
        /* The prompt has no '\n', so push it out before waiting for input. */
        fflush(stdout);

        /* Fix: the classic version used scanf("%s", buf), which has no length limit
         * (a long word overflows buf) and stops at white space ("abc XYZ" became two
         * messages). fgets() reads one whole line and never writes past buf. */
        if (fgets(buf, sizeof(buf), stdin) == NULL) {
            if (ferror(stdin)) {
                perror("read from stdin failed");
                status = 1;
            }
            break;  /* end of input (Ctrl-D): stop as if "exit" had been typed */
        }
        size_t msglen = strcspn(buf, "\n");
        if (buf[msglen] != '\n' && !feof(stdin)) {
            /* fgets() filled buf and the line goes on: drop the rest of it. A longer
             * message would not fit the server's buffer either. */
            int c;
            while ((c = getchar()) != '\n' && c != EOF)
                ;
            fprintf(stderr, "message too long (at most %d characters), not sent\n", MAX_MSG);
            continue;
        }
        buf[msglen] = '\0';  /* drop the newline: the datagram is the text alone */

        // send it to the server
        /* Fix: the classic version sent sizeof(buf) bytes: all 1024 bytes of the
         * buffer, the text and then whatever followed it. We send the text only.
         * Fix: it also ignored the result; a UDP datagram goes out whole or not at
         * all, so one check of the byte count is enough. */
        ssize_t sent = sendto(socket_fd, buf, msglen, 0, (struct sockaddr *)&serverAddr, sizeof(serverAddr));
        if (sent < 0) {
            perror("sendto failed");
            status = 1;
            break;
        }
        if ((size_t)sent != msglen) {
            fprintf(stderr, "sendto sent %zd of %zu bytes\n", sent, msglen);
            status = 1;
            break;
        }

        // "exit" ends the client (and the server)
        if (strcmp(buf, "exit") == 0)
            break;

        // wait for the server's upper-case answer
        /* Fix: the classic version passed &serverAddr here, so recvfrom() overwrote
         * the server's address with the sender's: one stray datagram from another
         * program and every later message went to that program. The sender goes into
         * a separate replyAddr, and datagrams from anyone but the server are skipped.
         * Fix: the byte count is kept, and recvbuf gets its '\0' from it, instead of
         * trusting the buffer to have been zeroed. */
        struct sockaddr_in replyAddr;
        ssize_t n;
        while (1) {
            socklen_t len = sizeof(replyAddr);
            n = recvfrom(socket_fd, recvbuf, sizeof(recvbuf) - 1, 0, (struct sockaddr *)&replyAddr, &len);
            if (n < 0)
                break;
            if (replyAddr.sin_addr.s_addr == serverAddr.sin_addr.s_addr &&
                replyAddr.sin_port == serverAddr.sin_port)
                break;
        }
        if (n < 0) {
            fprintf(stderr, "recvfrom data from %s:%d, failed: ",
                    inet_ntoa(serverAddr.sin_addr), ntohs(serverAddr.sin_port));
            perror(NULL);  /* EAGAIN here means no answer within the timeout */
            status = 1;
            break;
        }
        recvbuf[n] = '\0';

        // show the server's address and the answer
        printf("get receive message from [%s:%d]: %s\n",
               inet_ntoa(replyAddr.sin_addr), ntohs(replyAddr.sin_port), recvbuf);
    }

    // close the socket, and check that it closed
    if (close(socket_fd) < 0) {
        perror("close socket failed!");
        status = 1;
    }

    return status;
}
