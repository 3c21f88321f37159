/* test_serve.c — `ferc serve` as a real process on a loopback port (--port 0:
 * the kernel picks a free one, the server prints it), driven by a small
 * socket client written here (no curl needed): every endpoint, the answer
 * against `ferc predict --json` for the same photo, each kind of bad input,
 * the token, concurrent clients and the bounded queue (503 + Retry-After),
 * a slow client cut off by --timeout, SIGTERM finishing a request in flight
 * and exiting 0; the in-memory decoder of the library (src/serve/); and the
 * page in headless Chromium with a fake webcam (tests/serve-browser/). */
#include "cli_util.h"
#include "test.h"

#include "ferc.h"

#include <errno.h>
#include <jpeglib.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define ASTRONAUT "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"

/* ---- the server process ---- */

typedef struct {
    pid_t pid;
    int port;
    char dir[1024];
} server;

static void sleep_ms(int ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* `ferc serve --port 0 ARGS` with stdout/stderr in dir/serve.out, .err;
 * waits (up to 60 s: a sanitizer build loads slowly) for the address line.
 * 1 when it listens, 0 after recording why not. */
static int serve_start(server *s, const char *dir, const char *args) {
    const char *ferc = cli_ferc();
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "exec '%s' serve --port 0 %s > '%s/serve.out' 2> '%s/serve.err'", ferc, args, dir, dir);
    s->pid = fork();
    if (s->pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 600; i++) {
        char *out = test_read(test_path(dir, "serve.out"), NULL);
        const char *p = out ? strstr(out, "listening on http://127.0.0.1:") : NULL;
        if (p) s->port = atoi(p + strlen("listening on http://127.0.0.1:"));
        free(out);
        if (s->port > 0) return 1;
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            char *err = test_read(test_path(dir, "serve.err"), NULL);
            test_fail(__FILE__, __LINE__, "ferc serve exited before listening: %s", err ? err : "?");
            free(err);
            s->pid = 0;
            return 0;
        }
        sleep_ms(100);
    }
    test_fail(__FILE__, __LINE__, "ferc serve did not say where it listens within 60 s");
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
    return 0;
}

/* SIGTERM, then its exit status (128 + n for signal n; -1 when it had to be
 * killed after 30 s). */
static int serve_stop(server *s) {
    if (s->pid <= 0) return -1;
    kill(s->pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 300; i++) {
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        sleep_ms(100);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
    return -1;
}

/* ---- a minimal HTTP/1.1 client (one request per connection) ---- */

typedef struct {
    int status;     /* 0: no answer */
    char *head;     /* status line and headers */
    char *body;
    size_t len;
} answer;

static void answer_free(answer *a) {
    free(a->head);
    free(a->body);
    memset(a, 0, sizeof *a);
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0) return -1;
    struct timeval tv = {.tv_sec = 60};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { close(fd); return -1; }
    return fd;
}

static int send_all(int fd, const void *p, size_t n) {
    const char *b = p;
    while (n > 0) {
        ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
        if (k <= 0) return 0;
        b += k;
        n -= (size_t)k;
    }
    return 1;
}

/* Read to the end (the request said Connection: close) and split. */
static void read_answer(int fd, answer *a) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    ssize_t k;
    while (buf && (k = recv(fd, buf + n, cap - n, 0)) > 0) {
        n += (size_t)k;
        if (n == cap) buf = realloc(buf, (cap *= 2) + 1);
    }
    memset(a, 0, sizeof *a);
    if (!buf) return;
    buf[n] = 0;
    char *sep = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.1 ", 9) == 0 && sep) {
        a->status = atoi(buf + 9);
        *sep = 0;
        a->head = strdup(buf);
        a->len = n - (size_t)(sep + 4 - buf);
        a->body = malloc(a->len + 1);
        memcpy(a->body, sep + 4, a->len);
        a->body[a->len] = 0;
    }
    free(buf);
}

/* METHOD path with extra header lines (each ending \r\n) and a body. */
static answer http(int port, const char *method, const char *path, const char *headers, const void *body, size_t n) {
    answer a = {0};
    int fd = connect_to(port);
    if (fd < 0) return a;
    char head[2048];
    snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s", method, path,
             headers ? headers : "", body || strcmp(method, "POST") == 0 ? "" : "\r\n");
    if (body || !strcmp(method, "POST")) {
        size_t m = strlen(head);
        snprintf(head + m, sizeof head - m, "Content-Length: %zu\r\n\r\n", n);
    }
    if (send_all(fd, head, strlen(head)) && (n == 0 || send_all(fd, body, n))) read_answer(fd, &a);
    close(fd);
    return a;
}

static answer post(int port, const char *path, const char *headers, const void *body, size_t n) {
    return http(port, "POST", path, headers, body, n);
}

static int has_header(const answer *a, const char *line) { return a->head && strcasestr(a->head, line) != NULL; }

/* ---- images ---- */

/* A w x h gray JPEG (smooth pattern) in memory, malloc'd; *n its size. */
static unsigned char *make_jpeg(int w, int h, unsigned long *n) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    unsigned char *out = NULL;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, n);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 1;
    c.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_start_compress(&c, TRUE);
    unsigned char *row = malloc((size_t)w);
    while (c.next_scanline < c.image_height) {
        for (int x = 0; x < w; x++) row[x] = (unsigned char)((x * 7 + (int)c.next_scanline * 3) & 255);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    return out;
}

/* The signature and IHDR chunk (right CRC) of a PNG that claims w x h: 33 bytes. */
static size_t png_bomb(uint32_t w, uint32_t h, unsigned char *b) {
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char chunk[17] = {'I', 'H', 'D', 'R', w >> 24, w >> 16, w >> 8, w, h >> 24, h >> 16, h >> 8, h, 8, 0, 0, 0, 0};
    uint32_t crc = (uint32_t)crc32(0, chunk, sizeof chunk);
    memcpy(b, sig, 8);
    memcpy(b + 8, (unsigned char[]){0, 0, 0, 13}, 4);
    memcpy(b + 12, chunk, 17);
    memcpy(b + 29, (unsigned char[]){crc >> 24, crc >> 16, crc >> 8, crc}, 4);
    return 33;
}

/* Everything a test needs: ferc, a model, the astronaut; skips otherwise. */
#define SETUP(dir, model, photo, nphoto)                                                    \
    NEED_FERC();                                                                            \
    if (access(ASTRONAUT, R_OK)) SKIP("no " ASTRONAUT " (apt-get install python3-skimage)"); \
    const char *dir = test_tmpdir();                                                        \
    const char *model = cli_make_model(dir, 3, NULL, 0);                                    \
    size_t nphoto = 0;                                                                      \
    unsigned char *photo = test_read(ASTRONAUT, &nphoto);                                   \
    CHECK(model && photo);                                                                  \
    if (!model || !photo) { free(photo); return; }                                          \
    (void)ferc

/* ---- the library part: images in memory ---- */

TEST(serve_image_decode_in_memory) {
    if (access(ASTRONAUT, R_OK)) SKIP("no " ASTRONAUT " (apt-get install python3-skimage)");
    size_t n = 0;
    unsigned char *png = test_read(ASTRONAUT, &n);
    ferc_error err = {0};
    ferc_image a = {0}, b = {0};
    int fmt = 0;
    uint32_t w = 0, h = 0;
    CHECK_EQ_INT(ferc_image_probe(png, n, &fmt, &w, &h, &err), FERC_OK);
    CHECK(fmt == FERC_FORMAT_PNG && w == 512 && h == 512);
    CHECK_EQ_INT(ferc_image_decode(png, n, 1, 0, &a, &err), FERC_OK);
    CHECK_EQ_INT(ferc_image_load(ASTRONAUT, 1, &b, &err), FERC_OK);
    CHECK(a.w == b.w && a.h == b.h && a.c == 1 && a.data && b.data && !memcmp(a.data, b.data, (size_t)a.w * a.h));
    ferc_image_free(&a);
    /* the caller's pixel limit, from the header */
    CHECK_EQ_INT(ferc_image_decode(png, n, 1, 512 * 511, &a, &err), FERC_ERR_LIMIT);
    CHECK_MSG(strstr(err.msg, "512x512"), "%s", err.msg);
    CHECK_EQ_INT(ferc_image_decode(png, n / 2, 1, 0, &a, &err), FERC_ERR_DECODE);  /* truncated */
    CHECK_MSG(!strstr(err.msg, "/proc/"), "the staging path leaks into the message: %s", err.msg);
    unsigned char bomb[33];
    size_t nb = png_bomb(100000, 100000, bomb);
    CHECK_EQ_INT(ferc_image_probe(bomb, nb, &fmt, &w, &h, &err), FERC_OK);  /* a header is enough */
    CHECK(w == 100000 && h == 100000);
    CHECK_EQ_INT(ferc_image_decode(bomb, nb, 1, 0, &a, &err), FERC_ERR_LIMIT);
    CHECK_EQ_INT(ferc_image_decode("", 0, 1, 0, &a, &err), FERC_ERR_DECODE);
    CHECK_EQ_INT(ferc_image_decode("GIF89a garbage", 14, 1, 0, &a, &err), FERC_ERR_DECODE);
    unsigned long nj = 0;
    unsigned char *jpg = make_jpeg(64, 48, &nj);
    CHECK_EQ_INT(ferc_image_probe(jpg, nj, &fmt, &w, &h, &err), FERC_OK);
    CHECK(fmt == FERC_FORMAT_JPEG && w == 64 && h == 48);
    CHECK_EQ_INT(ferc_image_decode(jpg, nj, 1, 0, &a, &err), FERC_OK);
    CHECK(a.w == 64 && a.h == 48);
    ferc_image_free(&a);
    CHECK_EQ_INT(ferc_image_decode(jpg, nj - 40, 1, 0, &a, &err), FERC_ERR_DECODE);
    free(jpg);
    ferc_image_free(&b);
    free(png);
}

/* ---- the service ---- */

/* From "whole_image" to the end of "faces": the part of an answer that
 * `ferc predict --json` and the server must write identically. */
static char *faces_part(const char *json) {
    const char *a = json ? strstr(json, "\"whole_image\"") : NULL;
    const char *z = json ? strstr(json, "], \"width\"") : NULL;
    if (!z && json) z = strrchr(json, ']');
    if (!a || !z || z < a) return strdup("?");
    return strndup(a, (size_t)(z - a + 1));
}

/* A multipart/form-data body with field `field` holding data. */
static char *multipart(const char *field, const void *data, size_t n, size_t *len) {
    const char *fmt1 = "--ferc-test-7d1f\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
                       "--ferc-test-7d1f\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"astronaut.png\"\r\n"
                       "Content-Type: image/png\r\n\r\n";
    char head[512];
    int h = snprintf(head, sizeof head, fmt1, field);
    const char *tail = "\r\n--ferc-test-7d1f--\r\n";
    *len = (size_t)h + n + strlen(tail);
    char *b = malloc(*len);
    memcpy(b, head, (size_t)h);
    memcpy(b + h, data, n);
    memcpy(b + h + n, tail, strlen(tail));
    return b;
}

#define MULTIPART "Content-Type: multipart/form-data; boundary=ferc-test-7d1f\r\n"

/* The value of a Prometheus sample line "name value"; -1 when absent. */
static double metric(const char *text, const char *name) {
    char key[256];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = text ? strstr(text, key) : NULL;
    return p ? atof(p + strlen(key)) : -1;
}

/* Multipart, ?detect=0, 404, then /metrics counting all of it. */
static void serve_endpoints_more(const server *s, const unsigned char *photo, size_t nphoto) {
    size_t n;
    char *mp = multipart("image", photo, nphoto, &n);
    answer a = post(s->port, "/v1/emotions", MULTIPART, mp, n);
    CHECK_EQ_INT(a.status, 200);
    CHECK_MSG(a.body && strstr(a.body, "{\"image\": \"astronaut.png\", \"whole_image\": false") &&
              strstr(a.body, "\"box\": [177, 66, 95, 95]"), "%s", a.body ? a.body : "");
    answer_free(&a);
    free(mp);
    a = post(s->port, "/v1/emotions?detect=0", NULL, photo, nphoto);
    CHECK_MSG(a.status == 200 && a.body && strstr(a.body, "\"whole_image\": true, \"faces\": [{\"box\": [0, 0, 512, 512], "
              "\"face_confidence\": null"), "%d %s", a.status, a.body ? a.body : "");
    answer_free(&a);
    a = http(s->port, "GET", "/nope", NULL, NULL, 0);
    CHECK(a.status == 404 && a.body && strstr(a.body, "\"status\": 404"));
    answer_free(&a);
    a = http(s->port, "GET", "/metrics", NULL, NULL, 0);
    CHECK_EQ_INT(a.status, 200);
    CHECK(has_header(&a, "Content-Type: text/plain; version=0.0.4"));
    /* GET / /healthz /v1/model, 3 POSTs: 6 answered 200 before this one */
    CHECK_NEAR(metric(a.body, "ferc_http_requests_total{code=\"200\"}"), 6, 0);
    CHECK_NEAR(metric(a.body, "ferc_http_requests_total{code=\"404\"}"), 1, 0);
    CHECK_NEAR(metric(a.body, "ferc_faces_found_total"), 3, 0);
    CHECK_NEAR(metric(a.body, "ferc_images_total"), 3, 0);
    CHECK_NEAR(metric(a.body, "ferc_emotions_request_duration_seconds_count"), 3, 0);
    CHECK_NEAR(metric(a.body, "ferc_emotions_request_duration_seconds_bucket{le=\"+Inf\"}"), 3, 0);
    CHECK(metric(a.body, "ferc_emotions_request_duration_seconds_sum") > 0);
    answer_free(&a);
}

TEST(serve_endpoints) {
    SETUP(dir, model, photo, nphoto);
    server s = {0};
    char args[1200];
    snprintf(args, sizeof args, "--model '%s' --threads 2", model);
    if (!serve_start(&s, dir, args)) { free(photo); return; }
    answer a = http(s.port, "GET", "/", NULL, NULL, 0);
    CHECK_EQ_INT(a.status, 200);
    CHECK(has_header(&a, "Content-Type: text/html"));
    CHECK(a.body && strstr(a.body, "<title>") && strstr(a.body, "getUserMedia") && strstr(a.body, "v1/emotions"));
    answer_free(&a);
    a = http(s.port, "GET", "/healthz", NULL, NULL, 0);
    CHECK(a.status == 200 && a.body && strstr(a.body, "\"status\": \"ok\""));
    answer_free(&a);
    a = http(s.port, "GET", "/v1/model", NULL, NULL, 0);
    CHECK(a.status == 200 && a.body && strstr(a.body, "\"input_size\": 48") && strstr(a.body, "\"model\": \"model.ferc\""));
    CHECK(a.body && strstr(a.body, "[\"angry\", \"disgust\", \"fear\", \"happy\", \"sad\", \"surprise\", \"neutral\"]"));
    answer_free(&a);
    /* the photo, raw: the JSON of ferc predict --json, plus size and time */
    a = post(s.port, "/v1/emotions", "Content-Type: image/png\r\n", photo, nphoto);
    CHECK_EQ_INT(a.status, 200);
    CHECK(has_header(&a, "Content-Type: application/json"));
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' --json '%s'", ferc, model, ASTRONAUT), 0);
    char *want = cli_out(dir), *p1 = faces_part(want), *p2 = faces_part(a.body);
    CHECK_MSG(!strcmp(p1, p2) && strstr(p1, "\"box\": [177, 66, 95, 95]"), "serve %s\npredict %s", p2, p1);
    CHECK(a.body && strstr(a.body, "\"width\": 512, \"height\": 512, \"milliseconds\": "));
    free(want), free(p1), free(p2);
    answer_free(&a);
    serve_endpoints_more(&s, photo, nphoto);
    CHECK_EQ_INT(serve_stop(&s), 0);
    free(photo);
}

/* Bad input of every kind gets its 4xx and a JSON error, and the server
 * stays up for the next client. */
TEST(serve_bad_input) {
    SETUP(dir, model, photo, nphoto);
    server s = {0};
    char args[1200];
    snprintf(args, sizeof args, "--model '%s' --threads 1 --max-body 1000000", model);
    if (!serve_start(&s, dir, args)) { free(photo); return; }
    unsigned long nj = 0;
    unsigned char *jpg = make_jpeg(320, 240, &nj), bomb[33];
    size_t nb = png_bomb(100000, 100000, bomb), n;
    char *mp = multipart("photo", photo, 1000, &n);
    char big[64];
    snprintf(big, sizeof big, "Content-Length: %d\r\n\r\n", 5000000);
    const struct { const char *what, *method, *path, *headers; const void *body; size_t n; int code; const char *msg; } c[] = {
        {"truncated JPEG", "POST", "/v1/emotions", NULL, jpg, nj / 2, 400, "bad JPEG"},
        {"0-byte body", "POST", "/v1/emotions", NULL, "", 0, 400, "empty body"},
        {"100000x100000 PNG header", "POST", "/v1/emotions", NULL, bomb, nb, 413, "100000x100000"},
        {"garbage", "POST", "/v1/emotions", NULL, "this is not an image at all", 27, 400, "not a PNG or JPEG"},
        {"truncated PNG", "POST", "/v1/emotions", NULL, photo, nphoto / 3, 400, "bad PNG"},
        {"GET on the POST API", "GET", "/v1/emotions", NULL, NULL, 0, 405, "use POST"},
        {"POST on a GET page", "POST", "/healthz", NULL, "x", 1, 405, "use GET"},
        {"DELETE", "DELETE", "/v1/model", NULL, NULL, 0, 405, "use GET"},
        {"bad ?detect", "POST", "/v1/emotions?detect=maybe", NULL, jpg, nj, 400, "detect must be"},
        {"multipart without 'image'", "POST", "/v1/emotions", MULTIPART, mp, n, 400, "no field 'image'"},
        {"a body over --max-body", "POST", "/v1/emotions", big, NULL, 0, 413, "over the limit of 1000000 bytes"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        answer a = post(s.port, c[i].path, c[i].headers, c[i].body, c[i].n);
        if (strcmp(c[i].method, "POST")) { answer_free(&a); a = http(s.port, c[i].method, c[i].path, NULL, NULL, 0); }
        CHECK_MSG(a.status == c[i].code && a.body && strstr(a.body, c[i].msg) && strstr(a.body, "{\"error\": "),
                  "%s: %d %s", c[i].what, a.status, a.body ? a.body : "(no answer)");
        if (c[i].code == 405) CHECK_MSG(has_header(&a, "Allow: "), "%s: no Allow header", c[i].what);
        answer_free(&a);
    }
    answer a = post(s.port, "/v1/emotions", NULL, jpg, nj);  /* still serving */
    CHECK_MSG(a.status == 200 && a.body && strstr(a.body, "\"width\": 320, \"height\": 240"), "%d", a.status);
    answer_free(&a);
    free(jpg), free(mp), free(photo);
    CHECK_EQ_INT(serve_stop(&s), 0);
}

/* A chunked body (no Content-Length) over --max-body: read to its end
 * and answered 413. */
TEST(serve_chunked_over_limit) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *model = cli_make_model(dir, 3, NULL, 0);
    server s = {0};
    char args[1200];
    snprintf(args, sizeof args, "--model '%s' --threads 1 --max-body 100000", model);
    if (!model || !serve_start(&s, dir, args)) return;
    int fd = connect_to(s.port);
    const char *head = "POST /v1/emotions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
    char chunk[10000 + 16];
    int k = snprintf(chunk, sizeof chunk, "%x\r\n", 10000);
    memset(chunk + k, 'x', 10000);
    memcpy(chunk + k + 10000, "\r\n", 2);
    int ok = fd >= 0 && send_all(fd, head, strlen(head));
    for (int i = 0; ok && i < 15; i++) ok = send_all(fd, chunk, (size_t)k + 10002);
    ok = ok && send_all(fd, "0\r\n\r\n", 5);
    answer a = {0};
    if (ok) read_answer(fd, &a);
    if (fd >= 0) close(fd);
    CHECK_MSG(a.status == 413 && a.body && strstr(a.body, "over the limit of 100000 bytes"), "%d", a.status);
    answer_free(&a);
    CHECK_EQ_INT(serve_stop(&s), 0);
}

TEST(serve_token) {
    SETUP(dir, model, photo, nphoto);
    server s = {0};
    char args[1200];
    snprintf(args, sizeof args, "--model '%s' --threads 1 --token s3cret-t0ken", model);
    if (!serve_start(&s, dir, args)) { free(photo); return; }
    const struct { const char *method, *path, *auth; int code; } c[] = {
        {"POST", "/v1/emotions", NULL, 401},
        {"POST", "/v1/emotions", "Authorization: Bearer wrong-token!\r\n", 401},
        {"POST", "/v1/emotions", "Authorization: Bearer s3cret-t0ken-and-more\r\n", 401},
        {"POST", "/v1/emotions", "Authorization: Basic czNjcmV0LXQwa2Vu\r\n", 401},
        {"POST", "/v1/emotions", "Authorization: Bearer s3cret-t0ken\r\n", 200},
        {"GET", "/v1/model", NULL, 401},
        {"GET", "/metrics", NULL, 401},
        {"GET", "/metrics", "Authorization: Bearer s3cret-t0ken\r\n", 200},
        {"GET", "/healthz", NULL, 200},   /* for load balancers */
        {"GET", "/", NULL, 200},          /* the page asks for the token itself */
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        int p = !strcmp(c[i].method, "POST");
        answer a = http(s.port, c[i].method, c[i].path, c[i].auth, p ? photo : NULL, p ? nphoto : 0);
        CHECK_MSG(a.status == c[i].code, "%s %s with '%s': %d", c[i].method, c[i].path, c[i].auth ? c[i].auth : "", a.status);
        if (c[i].code == 401) CHECK(has_header(&a, "WWW-Authenticate: Bearer") && a.body && strstr(a.body, "token"));
        answer_free(&a);
    }
    free(photo);
    CHECK_EQ_INT(serve_stop(&s), 0);
}

/* ---- load ---- */

typedef struct {
    int port, n, detect;
    const unsigned char *img;
    size_t len;
    int codes[8];          /* statuses seen */
    int retry_after;       /* 503s that said Retry-After */
    char *first;           /* the faces part of the first 200 */
    int differ;            /* 200s whose faces part differs from the first */
} client;

static void *client_main(void *arg) {
    client *c = arg;
    for (int i = 0; i < c->n; i++) {
        answer a = post(c->port, c->detect ? "/v1/emotions" : "/v1/emotions?detect=0", NULL, c->img, c->len);
        c->codes[i] = a.status;
        if (a.status == 503 && has_header(&a, "Retry-After: ")) c->retry_after++;
        if (a.status == 200) {
            char *f = faces_part(a.body);
            if (!c->first) c->first = f;
            else { c->differ += strcmp(f, c->first) != 0; free(f); }
        }
        answer_free(&a);
    }
    return NULL;
}

/* nthreads clients of n requests each; counts of 200 and 503 and others. */
static void run_clients(client *c, int nthreads, int *ok, int *busy, int *other) {
    pthread_t t[16];
    for (int i = 0; i < nthreads; i++) pthread_create(&t[i], NULL, client_main, &c[i]);
    for (int i = 0; i < nthreads; i++) pthread_join(t[i], NULL);
    *ok = *busy = *other = 0;
    for (int i = 0; i < nthreads; i++)
        for (int k = 0; k < c[i].n; k++) {
            if (c[i].codes[k] == 200) (*ok)++;
            else if (c[i].codes[k] == 503) (*busy)++;
            else (*other)++;
        }
}

/* 8 clients at once on 2 workers: every answer 200 and the same faces. */
TEST(serve_concurrent_clients) {
    SETUP(dir, model, photo, nphoto);
    server s = {0};
    char args[1200];
    snprintf(args, sizeof args, "--model '%s' --threads 2 --queue 64", model);
    if (!serve_start(&s, dir, args)) { free(photo); return; }
    client c[8];
    for (int i = 0; i < 8; i++) c[i] = (client){.port = s.port, .n = 3, .detect = i % 2, .img = photo, .len = nphoto};
    int ok, busy, other;
    run_clients(c, 8, &ok, &busy, &other);
    CHECK_EQ_INT(ok, 24);
    CHECK_EQ_INT(busy + other, 0);
    for (int i = 0; i < 8; i++) {
        CHECK_EQ_INT(c[i].differ, 0);
        if (i >= 2) CHECK_MSG(c[i].first && c[i - 2].first && !strcmp(c[i].first, c[i - 2].first), "%s\n%s",
                              c[i].first, c[i - 2].first);
    }
    for (int i = 0; i < 8; i++) free(c[i].first);
    answer a = http(s.port, "GET", "/metrics", NULL, NULL, 0);
    CHECK_NEAR(metric(a.body, "ferc_images_total"), 24, 0);
    answer_free(&a);
    free(photo);
    CHECK_EQ_INT(serve_stop(&s), 0);
}

/* One worker and room for one waiting image: a burst gets 503 with
 * Retry-After for what does not fit, 200 for the rest, nothing else. */
TEST(serve_queue_full_503) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *model = cli_make_model(dir, 3, NULL, 0);
    server s = {0};
    char args[1200];
    snprintf(args, sizeof args, "--model '%s' --threads 1 --queue 1 --min-size 20", model);
    if (!model || !serve_start(&s, dir, args)) return;
    unsigned long nj = 0;
    unsigned char *jpg = make_jpeg(1600, 1200, &nj);  /* slow to scan: the burst overlaps */
    client c[10];
    for (int i = 0; i < 10; i++) c[i] = (client){.port = s.port, .n = 1, .detect = 1, .img = jpg, .len = nj};
    int ok, busy, other;
    run_clients(c, 10, &ok, &busy, &other);
    CHECK_MSG(ok >= 1 && busy >= 1 && other == 0, "200: %d, 503: %d, other: %d", ok, busy, other);
    int retry = 0;
    for (int i = 0; i < 10; i++) { retry += c[i].retry_after; free(c[i].first); }
    CHECK_EQ_INT(retry, busy);
    answer a = post(s.port, "/v1/emotions?detect=0", NULL, jpg, nj);  /* the burst over, served again */
    CHECK_EQ_INT(a.status, 200);
    answer_free(&a);
    free(jpg);
    CHECK_EQ_INT(serve_stop(&s), 0);
}

/* A client that hangs up while its image waits in the queue costs no work:
 * the worker sees the closed socket and drops it (counted as 499). */
TEST(serve_client_gone_is_skipped) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *model = cli_make_model(dir, 3, NULL, 0);
    server s = {0};
    char args[1200];
    snprintf(args, sizeof args, "--model '%s' --threads 1 --min-size 20", model);
    if (!model || !serve_start(&s, dir, args)) return;
    unsigned long nj = 0;
    unsigned char *jpg = make_jpeg(1600, 1200, &nj);
    client slow = {.port = s.port, .n = 1, .detect = 1, .img = jpg, .len = nj};
    pthread_t t;
    pthread_create(&t, NULL, client_main, &slow);   /* keeps the one worker busy */
    sleep_ms(50);
    int fd = connect_to(s.port);
    char head[256];
    snprintf(head, sizeof head, "POST /v1/emotions HTTP/1.1\r\nHost: x\r\nContent-Length: %lu\r\n\r\n", nj);
    CHECK(fd >= 0 && send_all(fd, head, strlen(head)) && send_all(fd, jpg, nj));
    sleep_ms(100);
    if (fd >= 0) close(fd);   /* gone before its turn */
    pthread_join(t, NULL);
    CHECK_EQ_INT(slow.codes[0], 200);
    free(slow.first);
    double gone = -1;
    for (int i = 0; i < 100 && gone < 1; i++) {   /* the worker reaches it after the slow one */
        answer a = http(s.port, "GET", "/metrics", NULL, NULL, 0);
        gone = metric(a.body, "ferc_http_requests_total{code=\"499\"}");
        answer_free(&a);
        if (gone < 1) sleep_ms(100);
    }
    CHECK_NEAR(gone, 1, 0);
    answer a = http(s.port, "GET", "/metrics", NULL, NULL, 0);
    CHECK_NEAR(metric(a.body, "ferc_images_total"), 1, 0);   /* only the slow one was classified */
    answer_free(&a);
    free(jpg);
    CHECK_EQ_INT(serve_stop(&s), 0);
}

/* ---- slow clients and SIGTERM ---- */

/* A client that sends half a request line and stops is dropped after
 * --timeout; the server goes on. */
TEST(serve_slow_client_timeout) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *model = cli_make_model(dir, 3, NULL, 0);
    server s = {0};
    char args[1200];
    snprintf(args, sizeof args, "--model '%s' --threads 1 --timeout 1", model);
    if (!model || !serve_start(&s, dir, args)) return;
    int fd = connect_to(s.port);
    CHECK(fd >= 0 && send_all(fd, "POST /v1/emo", 12));
    double t0 = ferc_now();
    char b[64];
    ssize_t k = fd >= 0 ? recv(fd, b, sizeof b, 0) : -1;
    double dt = ferc_now() - t0;
    CHECK_MSG(k == 0 && dt < 10, "recv %zd after %.1f s: the slow client was not dropped", k, dt);
    if (fd >= 0) close(fd);
    answer a = http(s.port, "GET", "/healthz", NULL, NULL, 0);
    CHECK_EQ_INT(a.status, 200);
    answer_free(&a);
    CHECK_EQ_INT(serve_stop(&s), 0);
}

/* SIGTERM while a request is half sent: the server stops listening at
 * once, finishes that request (200) and exits 0. */
TEST(serve_sigterm_finishes_in_flight) {
    SETUP(dir, model, photo, nphoto);
    server s = {0};
    char args[1200];
    snprintf(args, sizeof args, "--model '%s' --threads 1", model);
    if (!serve_start(&s, dir, args)) { free(photo); return; }
    int fd = connect_to(s.port);
    char head[256];
    snprintf(head, sizeof head, "POST /v1/emotions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
             nphoto);
    CHECK(fd >= 0 && send_all(fd, head, strlen(head)) && send_all(fd, photo, nphoto / 2));
    sleep_ms(300);
    kill(s.pid, SIGTERM);
    sleep_ms(500);
    int fd2 = connect_to(s.port);  /* no longer listening */
    CHECK_MSG(fd2 < 0, "a new connection was accepted after SIGTERM");
    if (fd2 >= 0) close(fd2);
    answer a = {0};
    if (fd >= 0 && send_all(fd, photo + nphoto / 2, nphoto - nphoto / 2)) read_answer(fd, &a);
    if (fd >= 0) close(fd);
    CHECK_MSG(a.status == 200 && a.body && strstr(a.body, "\"box\": [177, 66, 95, 95]"), "in-flight request: %d", a.status);
    answer_free(&a);
    int st = 0;
    for (int i = 0; i < 300 && waitpid(s.pid, &st, WNOHANG) != s.pid; i++) sleep_ms(100);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
    char *err = test_read(test_path(dir, "serve.err"), NULL);
    CHECK(err && strstr(err, "finishing the requests in flight") && strstr(err, "stopped"));
    free(err);
    s.pid = 0;
    free(photo);
}

/* Usage errors: one line and exit 2; a port in use or an unknown host: 1. */
TEST(serve_cli_errors) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *model = cli_make_model(dir, 3, NULL, 0);
    CHECK(model != NULL);
    const struct { const char *args, *msg; int rc; } c[] = {
        {"--port 70000", "--port", 2},
        {"--max-body 0", "--max-body", 2},
        {"--queue 0", "--queue", 2},
        {"--prot 80", "did you mean '--port'?", 2},
        {"--token ''", "--token", 2},
        {"extra", "unexpected argument", 2},
        {"--host no-such-host.invalid --port 0", "--host no-such-host.invalid", 1},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        int rc = cli_run(dir, "'%s' serve --model '%s' %s", ferc, model, c[i].args);
        char *e = cli_err(dir);
        CHECK_MSG(rc == c[i].rc && e && strstr(e, c[i].msg), "%s: exit %d, %s", c[i].args, rc, e ? e : "");
        free(e);
    }
    server s = {0};
    char args[1200];
    snprintf(args, sizeof args, "--model '%s' --threads 1", model);
    if (!serve_start(&s, dir, args)) return;
    int rc = cli_run(dir, "'%s' serve --model '%s' --port %d", ferc, model, s.port);
    char *e = cli_err(dir);
    CHECK_MSG(rc == 1 && e && strstr(e, "cannot listen"), "port in use: exit %d, %s", rc, e ? e : "");
    free(e);
    CHECK_EQ_INT(serve_stop(&s), 0);
}

/* ---- the page ---- */

/* Headless Chromium with a fake webcam on the page (tests/serve-browser/check.py):
 * a picked photo gets its cards and bars, live frames get boxes and labels
 * where the face is, and the screenshot shows the box in its colour. */
TEST(serve_page_in_chromium) {
    SETUP(dir, model, photo, nphoto);
    free(photo);
    if (access("/usr/bin/python3", X_OK)) SKIP("no /usr/bin/python3 to drive chromedriver");
    char script[4096];
    if (!realpath("tests/serve-browser/check.py", script)) SKIP("run from the repository's root: no tests/serve-browser/check.py");
    server s = {0};
    char args[1200];
    snprintf(args, sizeof args, "--model '%s' --threads 2", model);
    if (!serve_start(&s, dir, args)) return;
    int rc = cli_run(dir, "/usr/bin/python3 '%s' http://127.0.0.1:%d/ '%s' '%s'", script, s.port, ASTRONAUT, dir);
    char *err = cli_err(dir), *out = cli_out(dir);
    CHECK_EQ_INT(serve_stop(&s), 0);
    if (rc == 77) {
        char why[512];
        snprintf(why, sizeof why, "%s", err && *err ? err : "Chromium, chromedriver or ffmpeg missing");
        why[strcspn(why, "\n")] = 0;
        free(err), free(out);
        SKIP(why);
    }
    CHECK_MSG(rc == 0, "check.py exit %d: %s", rc, err ? err : "");
    CHECK(out && strstr(out, "webcam: ") && strstr(out, "frames answered") && strstr(out, "screenshot"));
    CHECK(test_exists(test_path(dir, "serve-page.png")));
    free(err), free(out);
}

/* The README's curl example is what the server answers with the shipped
 * model, byte for byte but for the milliseconds. */
TEST(serve_readme_example_matches) {
    NEED_FERC();
    if (access(ASTRONAUT, R_OK)) SKIP("no " ASTRONAUT " (apt-get install python3-skimage)");
    if (access("models/seed2.ferc", R_OK) || access("README.md", R_OK)) SKIP("run from the repository's root");
    char *readme = test_read("README.md", NULL);
    const char *m = readme ? strstr(readme, "<!-- serve-example -->") : NULL;
    const char *line = m ? strstr(m, "\n{\"image\"") : NULL;
    CHECK_MSG(line, "README.md has no serve example answer after <!-- serve-example -->");
    if (!line) { free(readme); return; }
    char *want = strndup(line + 1, strcspn(line + 1, "\n"));
    const char *dir = test_tmpdir();
    server s = {0};
    size_t n = 0;
    unsigned char *photo = test_read(ASTRONAUT, &n);
    if (!serve_start(&s, dir, "--model models/seed2.ferc --threads 1")) { free(readme), free(want), free(photo); return; }
    answer a = post(s.port, "/v1/emotions", NULL, photo, n);
    CHECK_EQ_INT(serve_stop(&s), 0);
    /* mask the one number that changes from run to run */
    char *got = a.body ? strndup(a.body, strcspn(a.body, "\n")) : strdup("");
    char *p1 = strstr(want, "\"milliseconds\": "), *p2 = strstr(got, "\"milliseconds\": ");
    if (p1) p1[16] = 0;
    if (p2) p2[16] = 0;
    CHECK_MSG(a.status == 200 && p1 && p2 && !strcmp(want, got), "README:\n%s\nserver:\n%s", want, got);
    answer_free(&a);
    free(readme), free(want), free(got), free(photo);
}
