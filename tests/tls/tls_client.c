/*
 * tls_client.c - a tiny WolfSSL TLS client for the TLS tests: it offers only
 * the cipher suites whose WolfSSL names contain a given word (NULL, RC4),
 * which no OpenSSL-based client on Debian can do any more, and reports
 * whether the handshake succeeded.
 *
 *   tls_client HOST PORT WORD|=LIST [--tls12]
 *
 * WORD: offer every suite this WolfSSL knows whose name contains WORD.
 * =LIST: offer exactly the colon-separated LIST (a control that must work).
 * Prints "offered: ..." and then "handshake ok: VERSION CIPHER" (exit 0) or
 * "handshake failed: REASON" (exit 1); exit 2 on usage or setup errors.
 * Bounded: the socket has a 5 s timeout.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s HOST PORT WORD|=LIST [--tls12]\n", argv[0]);
        return 2;
    }
    int tls12 = argc > 4 && strcmp(argv[4], "--tls12") == 0;
    wolfSSL_Init();
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(tls12 ? wolfTLSv1_2_client_method()
                                             : wolfSSLv23_client_method());
    if (!ctx)
        return 2;
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);

    static char list[8192];
    if (argv[3][0] == '=') {
        snprintf(list, sizeof list, "%s", argv[3] + 1);
    } else {
        /* Every suite of this build whose name contains WORD. */
        static char all[16384];
        if (wolfSSL_get_ciphers(all, (int)sizeof all) != WOLFSSL_SUCCESS)
            return 2;
        for (char *save = NULL, *c = strtok_r(all, ":", &save); c; c = strtok_r(NULL, ":", &save)) {
            if (strstr(c, argv[3]) && strlen(list) + strlen(c) + 2 < sizeof list) {
                if (*list)
                    strcat(list, ":");
                strcat(list, c);
            }
        }
    }
    if (!*list || wolfSSL_CTX_set_cipher_list(ctx, list) != WOLFSSL_SUCCESS) {
        fprintf(stderr, "no usable suite for '%s'\n", argv[3]);
        return 2;
    }
    printf("offered: %s\n", list);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("connect");
        return 2;
    }
    WOLFSSL *ssl = wolfSSL_new(ctx);
    wolfSSL_set_fd(ssl, fd);
    int rc = 1;
    if (wolfSSL_connect(ssl) == WOLFSSL_SUCCESS) {
        printf("handshake ok: %s %s\n", wolfSSL_get_version(ssl), wolfSSL_get_cipher_name(ssl));
        rc = 0;
    } else {
        int e = wolfSSL_get_error(ssl, 0);
        printf("handshake failed: %s (%d)\n", wolfSSL_ERR_reason_error_string((unsigned long)e), e);
    }
    wolfSSL_free(ssl);
    close(fd);
    wolfSSL_CTX_free(ctx);
    wolfSSL_Cleanup();
    return rc;
}
