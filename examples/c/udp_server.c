/*
 * udp_server.c - a UDP server that answers every datagram with its upper-case form.
 *
 * A rewrite of the classic teaching program: socket -> bind -> loop { recvfrom ->
 * sendto } -> close, on port 48763, where a client sending "exit" stops the server.
 * The calls, their order and the printed lines are kept; the comments marked "Fix:"
 * say what the classic version got wrong.
 *
 * UDP keeps message boundaries: one sendto() arrives as one recvfrom(), whole or not
 * at all. So here one datagram is one message, with no terminator.
 *
 * Usage: udp_server [PORT] [ADDRESS]
 *   PORT     defaults to 48763
 *   ADDRESS  IPv4 address to bind, defaults to every local address (INADDR_ANY)
 */
#include <arpa/inet.h>  /* sockaddr_in, htons, inet_ntoa, inet_pton */
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define serverPort 48763

/* Room for the longest message we accept plus one spare byte, see the recvfrom() fix. */
#define BUF_SIZE 1024
/* The longest message, in bytes, that the clients in this directory send. */
#define MAX_MSG (BUF_SIZE - 2)

/* Sent back, instead of an answer, for a datagram that is too long. It is lower case,
 * so it can never be mistaken for an answer: answers contain no a-z. */
static const char TOO_LONG_REPLY[] = "error: message too long";

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

    // message buffer
    char buf[BUF_SIZE];

    // create the socket
    /* Fix: the classic version printed a message and carried on with socket_fd == -1. */
    int socket_fd = socket(PF_INET, SOCK_DGRAM, 0);
    if (socket_fd < 0) {
        perror("Fail to create a socket");
        return 1;
    }

    // server address
    struct sockaddr_in serverAddr = {
        .sin_family = AF_INET,
        .sin_addr = bindIP,
        .sin_port = htons(port)
    };

    // bind the socket to the port in serverAddr
    /* Fix: the classic version exited with status 0 here, which tells a script that
     * started it that all went well. */
    if (bind(socket_fd, (const struct sockaddr *)&serverAddr, sizeof(serverAddr)) < 0) {
        perror("Bind socket failed!");
        close(socket_fd);
        return 1;
    }

    printf("Server ready!\n");

    struct sockaddr_in clientAddr;
    /* Fix: the classic version declared this as int; recvfrom() wants a socklen_t. */
    socklen_t len;
    int status = 0;
    while (1) {
        /* Fix: len is "value-result": recvfrom() overwrites it with the size of the
         * sender's address, so it is reset to the buffer size before every call. */
        len = sizeof(clientAddr);

        // wait for a datagram; the sender's address is written into clientAddr
        /* Fix: the classic version ignored the byte count recvfrom() returns and relied
         * on the buffer having been zeroed, so a datagram that filled the buffer left
         * no '\0' and strcmp()/printf() ran past its end. We keep the count in n. */
        ssize_t n = recvfrom(socket_fd, buf, sizeof(buf), 0, (struct sockaddr *)&clientAddr, &len);
        if (n < 0) {
            /* Fix: the classic version left the loop silently and still exited with 0. */
            perror("recvfrom failed");
            status = 1;
            break;
        }

        /* Fix: a datagram larger than the buffer is cut short by the kernel and the
         * rest is thrown away, silently. The buffer is one byte bigger than we need, so
         * a datagram that fills it may have been cut: it is refused, not half-answered. */
        if ((size_t)n > MAX_MSG) {
            printf("reject message from [%s:%d]: longer than %d bytes\n",
                   inet_ntoa(clientAddr.sin_addr), ntohs(clientAddr.sin_port), MAX_MSG);
            if (sendto(socket_fd, TOO_LONG_REPLY, strlen(TOO_LONG_REPLY), 0,
                       (struct sockaddr *)&clientAddr, len) < 0)
                perror("sendto failed");
            continue;
        }
        buf[n] = '\0';  /* now buf is a proper C string of n bytes */

        // "exit" closes the server
        /* Fix: compare the n bytes received, not "whatever is in buf up to a '\0'". */
        if ((size_t)n == strlen("exit") && memcmp(buf, "exit", (size_t)n) == 0) {
            printf("get exit order, closing the server...\n");
            break;
        }

        // turn the letters into upper case
        /* Fix: the classic version did not check convert()'s malloc() for NULL. */
        char *conv = convert(buf, (size_t)n);
        if (conv == NULL) {
            perror("convert failed");
            status = 1;
            break;
        }

        // show where the data came from, the original data and the converted data
        printf("get message from [%s:%d]: ", inet_ntoa(clientAddr.sin_addr), ntohs(clientAddr.sin_port));
        printf("%s -> %s\n", buf, conv);

        // send the answer back to clientAddr
        /* Fix: the classic version passed sizeof(conv) as the length. conv is a char *,
         * so that is the size of a pointer (8 bytes on 64-bit), not of the text: long
         * answers were cut to 8 bytes and short ones sent bytes from past the end of
         * the allocation. The length is n, the number of bytes we received. A UDP
         * datagram goes out whole or not at all, so one check of the count is enough. */
        ssize_t sent = sendto(socket_fd, conv, (size_t)n, 0, (struct sockaddr *)&clientAddr, len);
        if (sent < 0)
            perror("sendto failed");  /* this client's problem: keep serving the others */
        else if (sent != n)
            fprintf(stderr, "sendto sent %zd of %zd bytes\n", sent, n);

        free(conv);
    }

    // close the socket, and check that it closed
    if (close(socket_fd) < 0) {
        perror("close socket failed!");
        status = 1;
    }

    return status;
}
