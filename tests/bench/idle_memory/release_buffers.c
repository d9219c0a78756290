/* Experiment only (tests/bench/idle_memory/run.sh): what nginx does for an idle keep-alive
 * connection, SSL_free_buffers() once a read finds no data, interposed on lighttpd's SSL_read. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <openssl/ssl.h>

int SSL_read(SSL *ssl, void *buf, int num) {
    static int (*real_read)(SSL *, void *, int);
    if (!real_read) real_read = (int (*)(SSL *, void *, int))dlsym(RTLD_NEXT, "SSL_read");
    int n = real_read(ssl, buf, num);
    if (n <= 0 && SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ) SSL_free_buffers(ssl);
    return n;
}
