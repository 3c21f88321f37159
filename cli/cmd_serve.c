/* cmd_serve.c — `ferc serve`: the emotions of the faces in a photo over
 * HTTP, and a web page (built into the binary) that shows them for a dropped
 * photo or live from the webcam.
 *
 * Shape: libmicrohttpd (Debian libmicrohttpd-dev: no HTTP parsing of our
 * own) runs one internal polling thread that reads requests and writes
 * answers; a finished POST /v1/emotions becomes a job in a bounded queue and
 * its connection is suspended; N worker threads decode, detect and classify
 * and resume the connection with the answer. A full queue answers 503 with
 * Retry-After at once instead of letting latency grow without bound.
 *
 * Sharing: a ferc_model is NOT safe to run from two threads at once (its
 * network keeps the activations of the last forward pass in the model,
 * src/nn/net.c net_reserve / net_forward), so every worker loads its own copy
 * of the model; the Haar cascade is read-only once loaded (ferc.h) and is
 * shared. Each worker asks the detector for one thread: the workers are the
 * parallelism. (ferc_classify_faces runs the network on every core, threads
 * 0, and the public API has no way to ask for fewer; with N workers that
 * oversubscribes the cores during the classification step.)
 *
 * Safe by default: loopback unless --host; --token requires "Authorization:
 * Bearer" on the API; the body limit (413) is checked against
 * Content-Length before the body is read and again while it arrives; the
 * pixel limit is checked from the image header before decoding (413);
 * libmicrohttpd drops connections idle for --timeout seconds; SIGTERM or
 * SIGINT stops listening, finishes the requests in flight and exits 0. */
#include "cli.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* web/index.html, compiled in by the Makefile (web/embed.sh). */
extern const unsigned char ferc_web_index[];
extern const size_t ferc_web_index_len;

static void help(void) {
    printf(
        "usage: ferc serve [--host 127.0.0.1] [--port 8080] [--model FILE] [options]\n\n"
        "An HTTP service for the emotions of the faces in photos, and a web page.\n"
        "  GET  /               the page: drop or pick a photo, or start the webcam\n"
        "  POST /v1/emotions    a JPEG or PNG as the body (or multipart field 'image');\n"
        "                       ?detect=0 for an image that is already a face. Answers the\n"
        "                       JSON of `ferc predict --json` plus width, height, milliseconds\n"
        "  GET  /v1/model       class names, input size, model name\n"
        "  GET  /healthz        {\"status\": \"ok\"}\n"
        "  GET  /metrics        Prometheus text: requests by status, latency, faces found\n\n"
        "  --host ADDR          address to listen on (127.0.0.1: this machine only;\n"
        "                       0.0.0.0 or :: for every interface)\n"
        "  --port N             TCP port, 0 = any free one (8080); the address is printed\n"
        "  --model FILE         a .ferc model (default as `ferc predict`)\n"
        "  --threads N          worker threads, each with its own copy of the model\n"
        "                       (0 = one per core)\n"
        "  --token SECRET       require 'Authorization: Bearer SECRET' on /v1/* and\n"
        "                       /metrics (or set $FERC_SERVE_TOKEN); 401 otherwise\n"
        "  --max-body BYTES     largest request body, else 413 (10485760)\n"
        "  --max-pixels N       largest image, width x height, checked from its header\n"
        "                       before decoding, else 413 (40000000)\n"
        "  --queue N            images waiting for a worker; more get 503 + Retry-After (64)\n"
        "  --timeout S          drop a connection idle (or too slow) for S seconds (10)\n"
        "  face finder: --margin --scale-factor --min-neighbors --min-size --max-size\n"
        "               --max-faces --largest --cascade, as in `ferc predict`\n\n"
        "Errors are JSON {\"error\": MESSAGE, \"status\": CODE}: 400 a body that is not a\n"
        "readable PNG or JPEG, 401, 404, 405 a wrong method, 413, 503. SIGTERM or Ctrl-C\n"
        "stops listening, finishes the requests in flight and exits 0.\n\n"
        "examples:\n"
        "  ferc serve                       then open http://127.0.0.1:8080/\n"
        "  curl --data-binary @photo.jpg http://127.0.0.1:8080/v1/emotions\n"
        "  curl -F image=@face.png 'http://127.0.0.1:8080/v1/emotions?detect=0'\n");
}

/* ---- state ---- */

typedef struct {
    const char *host, *model_path, *token, *cascade_path;
    int port, threads, queue, timeout;
    long long max_body, max_pixels;
    ferc_find_opts find;
} serve_opts;

enum route { R_PAGE, R_HEALTH, R_MODEL, R_METRICS, R_EMOTIONS, R_NONE };
enum state { ST_RECEIVING, ST_QUEUED, ST_DONE, ST_ANSWERED };

typedef struct server server;

/* One request, from its first byte to the end of its answer (con_cls). */
typedef struct req {
    server *s;
    struct MHD_Connection *conn;
    int route, state, code;       /* code: the status answered, for /metrics */
    double t0;
    int detect;                   /* 0: classify the whole image (?detect=0) */
    long long received;           /* body bytes, multipart framing included */
    uint8_t *body;                /* the image */
    size_t len, cap;
    struct MHD_PostProcessor *pp;
    int pp_failed, got_field, over;
    int pending;                  /* an error to answer once the body is read */
    char pending_msg[160];
    char name[128];               /* "image" in the answer: the upload's file name */
    /* the worker's answer */
    int rcode, faces;
    char *rbody;
    size_t rlen;
    struct req *next;
} req;

#define NBUCKETS 12
static const double bucket_le[NBUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

typedef struct {
    int code[24];
    unsigned long count[24];
    int ncodes;
    unsigned long hist[NBUCKETS], n;   /* POST /v1/emotions latency, cumulative on output */
    double sum;
    unsigned long images, faces;
} metrics;

typedef struct {
    server *s;
    ferc_model *model;            /* this worker's own copy */
    ferc_faces found;
    pthread_t tid;
} worker;

struct server {
    serve_opts o;
    struct MHD_Daemon *d;
    ferc_cascade *cascade;
    char *model_json;             /* GET /v1/model, made once */
    int input_size;
    int nworkers;
    worker *w;
    pthread_mutex_t mu;           /* everything below */
    pthread_cond_t cv;
    req *head, *tail;
    int queued, busy, stop_workers, draining, closing;
    long active;                  /* requests begun and not yet completed */
    metrics m;
};

/* ---- answers ---- */

/* Queue an answer: body malloc'd and taken over (MUST_FREE), or static
 * (PERSISTENT); NULL = out of memory, answered 500 with an empty body. */
static enum MHD_Result answer_mem(req *r, int code, const char *type, char *body, size_t len,
                                  enum MHD_ResponseMemoryMode mode) {
    if (!body) { code = 500; len = 0; mode = MHD_RESPMEM_PERSISTENT; }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body ? body : (char *)"", mode);
    if (!resp) { if (mode == MHD_RESPMEM_MUST_FREE) free(body); return MHD_NO; }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (code == MHD_HTTP_UNAUTHORIZED) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (code == MHD_HTTP_SERVICE_UNAVAILABLE) MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->route == R_EMOTIONS ? "POST" : "GET, HEAD");
    if (r->route == R_PAGE && code == MHD_HTTP_OK)
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
                                "'unsafe-inline'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:");
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)code, resp);
    MHD_destroy_response(resp);
    if (ok == MHD_YES) {
        r->code = code;
        r->state = ST_ANSWERED;
    }
    return ok;
}

static enum MHD_Result answer(req *r, int code, const char *type, char *body, size_t len) {
    return answer_mem(r, code, type, body, len, MHD_RESPMEM_MUST_FREE);
}

/* A malloc'd string from printf-style arguments (NULL when out of memory). */
static char *fmt(size_t *len, const char *f, ...) __attribute__((format(printf, 2, 3)));
static char *fmt(size_t *len, const char *f, ...) {
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    if (!m) return NULL;
    va_list ap;
    va_start(ap, f);
    vfprintf(m, f, ap);
    va_end(ap);
    if (fclose(m) != 0) { free(buf); return NULL; }
    *len = n;
    return buf;
}

/* {"error": msg, "status": code} as a malloc'd body. */
static char *error_json(int code, const char *msg, size_t *len) {
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    if (!m) return NULL;
    fputs("{\"error\": ", m);
    cli_json_str(m, msg);
    fprintf(m, ", \"status\": %d}\n", code);
    if (fclose(m) != 0) { free(buf); return NULL; }
    *len = n;
    return buf;
}

static enum MHD_Result fail(req *r, int code, const char *msg) {
    size_t len = 0;
    char *body = error_json(code, msg, &len);
    return answer(r, code, "application/json", body, len);
}

/* ---- metrics ---- */

/* Count one finished request (under s->mu). */
static void metrics_add(metrics *m, const req *r, int code, double seconds) {
    int i = 0;
    while (i < m->ncodes && m->code[i] != code) i++;
    if (i == m->ncodes && m->ncodes < 24) m->code[m->ncodes++] = code;
    if (i < 24) m->count[i]++;
    if (r->route != R_EMOTIONS) return;
    for (int b = 0; b < NBUCKETS; b++)
        if (seconds <= bucket_le[b]) m->hist[b]++;
    m->n++;
    m->sum += seconds;
}

static char *metrics_text(server *s, size_t *len) {
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) return NULL;
    pthread_mutex_lock(&s->mu);
    metrics m = s->m;
    int queued = s->queued, busy = s->busy;
    pthread_mutex_unlock(&s->mu);
    fputs("# HELP ferc_http_requests_total HTTP requests answered, by status code.\n"
          "# TYPE ferc_http_requests_total counter\n", f);
    for (int i = 0; i < m.ncodes; i++) fprintf(f, "ferc_http_requests_total{code=\"%d\"} %lu\n", m.code[i], m.count[i]);
    fputs("# HELP ferc_emotions_request_duration_seconds Time from the first byte of a POST /v1/emotions to its answer.\n"
          "# TYPE ferc_emotions_request_duration_seconds histogram\n", f);
    for (int b = 0; b < NBUCKETS; b++)
        fprintf(f, "ferc_emotions_request_duration_seconds_bucket{le=\"%g\"} %lu\n", bucket_le[b], m.hist[b]);
    fprintf(f, "ferc_emotions_request_duration_seconds_bucket{le=\"+Inf\"} %lu\n", m.n);
    fprintf(f, "ferc_emotions_request_duration_seconds_sum %.6f\nferc_emotions_request_duration_seconds_count %lu\n",
            m.sum, m.n);
    fprintf(f, "# HELP ferc_images_total Images decoded and classified.\n# TYPE ferc_images_total counter\n"
               "ferc_images_total %lu\n", m.images);
    fprintf(f, "# HELP ferc_faces_found_total Faces found (or whole images classified).\n"
               "# TYPE ferc_faces_found_total counter\nferc_faces_found_total %lu\n", m.faces);
    fprintf(f, "# HELP ferc_queue_length Images waiting for a worker.\n# TYPE ferc_queue_length gauge\n"
               "ferc_queue_length %d\n# HELP ferc_workers_busy Workers classifying now.\n"
               "# TYPE ferc_workers_busy gauge\nferc_workers_busy %d\n", queued, busy);
    fprintf(f, "# HELP ferc_workers Worker threads.\n# TYPE ferc_workers gauge\nferc_workers %d\n", s->nworkers);
    if (fclose(f) != 0) { free(buf); return NULL; }
    *len = n;
    return buf;
}

/* ---- the work: one image ---- */

/* Has the client of a queued request hung up? Then its image is not worth
 * a worker's time (a load generator stopping, a page closed): a peek at the
 * suspended connection's socket, which libmicrohttpd leaves alone. */
static int client_gone(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return 0;
    struct pollfd p = {.fd = ci->connect_fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0) return 0;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return 1;
    char b;
    return recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* Decode, find and classify; the answer into r->rcode / r->rbody. */
static void classify_image(worker *w, req *r) {
    server *s = w->s;
    if (client_gone(r->conn)) {   /* 499, as nginx logs a client that closed first */
        r->rcode = 499;
        r->rbody = error_json(499, "the client closed the connection before the answer", &r->rlen);
        return;
    }
    double t0 = ferc_now();
    ferc_error err = {0};
    ferc_image g;
    ferc_status st = ferc_image_decode(r->body, r->len, 1, (uint64_t)s->o.max_pixels, &g, &err);
    if (st != FERC_OK) {
        r->rcode = st == FERC_ERR_LIMIT ? 413 : st == FERC_ERR_DECODE ? 400 : 500;
        r->rbody = error_json(r->rcode, err.msg, &r->rlen);
        return;
    }
    /* as `ferc predict`: an image no larger than twice the input is a face crop */
    int s2 = 2 * s->input_size, whole = !r->detect || (g.w <= s2 && g.h <= s2);
    ferc_box box = {.x = 0, .y = 0, .w = g.w, .h = g.h};
    float p[FERC_NUM_CLASSES];
    ferc_faces one = {.n = 1, .boxes = &box, .probs = p, .cap = 1};
    if (whole) st = ferc_classify_faces(w->model, g.data, g.w, g.h, g.w, &box, 1, 0, p, &err);
    else st = ferc_find_faces(s->cascade, w->model, g.data, g.w, g.h, g.w, &s->o.find, &w->found, &err);
    if (st != FERC_OK) {
        ferc_image_free(&g);
        r->rcode = 500;
        r->rbody = error_json(500, err.msg, &r->rlen);
        return;
    }
    const ferc_faces *f = whole ? &one : &w->found;
    FILE *m = open_memstream(&r->rbody, &r->rlen);
    if (m) {
        cli_predict_json(m, &(cli_predict_result){.image = r->name, .faces = f, .whole = whole, .width = g.w,
                                                  .height = g.h, .ms = (ferc_now() - t0) * 1000.0});
        if (fclose(m) != 0) { free(r->rbody); r->rbody = NULL; }
    }
    ferc_image_free(&g);
    r->faces = f->n;
    r->rcode = r->rbody ? 200 : 500;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    server *s = w->s;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->head && !s->stop_workers) pthread_cond_wait(&s->cv, &s->mu);
        req *r = s->head;
        if (!r) { pthread_mutex_unlock(&s->mu); return NULL; }
        s->head = r->next;
        if (!s->head) s->tail = NULL;
        s->queued--;
        s->busy++;
        pthread_mutex_unlock(&s->mu);
        classify_image(w, r);
        pthread_mutex_lock(&s->mu);
        if (r->rcode == 200) { s->m.images++; s->m.faces += (unsigned long)r->faces; }
        r->state = ST_DONE;
        pthread_mutex_unlock(&s->mu);
        /* after this r may be answered and freed by the polling thread; the
         * worker counts as busy until the connection is resumed, so that
         * drain() never stops the daemon with a connection suspended */
        MHD_resume_connection(r->conn);
        pthread_mutex_lock(&s->mu);
        s->busy--;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
}

/* ---- requests ---- */

static const struct {
    const char *path;
    int route, needs_token, post;
} routes[] = {
    {.path = "/", .route = R_PAGE},
    {.path = "/index.html", .route = R_PAGE},
    {.path = "/healthz", .route = R_HEALTH},
    {.path = "/v1/model", .route = R_MODEL, .needs_token = 1},
    {.path = "/metrics", .route = R_METRICS, .needs_token = 1},
    {.path = "/v1/emotions", .route = R_EMOTIONS, .needs_token = 1, .post = 1},
};

static int route_of(const char *url, int *needs_token, int *post) {
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (!strcmp(url, routes[i].path)) {
            *needs_token = routes[i].needs_token;
            *post = routes[i].post;
            return routes[i].route;
        }
    return R_NONE;
}

/* "Bearer TOKEN" compared in constant time (for equal lengths). */
static int token_ok(const server *s, struct MHD_Connection *c) {
    if (!s->o.token) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return 0;
    h += 7;
    size_t n = strlen(s->o.token);
    if (strlen(h) != n) return 0;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)(h[i] ^ s->o.token[i]);
    return diff == 0;
}

static enum MHD_Result answer_get(req *r) {
    server *s = r->s;
    size_t len = 0;
    char *body;
    switch (r->route) {
    case R_PAGE:
        return answer_mem(r, 200, "text/html; charset=utf-8", (char *)ferc_web_index, ferc_web_index_len,
                          MHD_RESPMEM_PERSISTENT);
    case R_HEALTH:
        pthread_mutex_lock(&s->mu);
        int draining = s->draining;
        pthread_mutex_unlock(&s->mu);
        body = fmt(&len, "{\"status\": \"%s\", \"workers\": %d}\n", draining ? "draining" : "ok", s->nworkers);
        return answer(r, draining ? 503 : 200, "application/json", body, len);
    case R_MODEL:
        body = strdup(s->model_json);
        return answer(r, 200, "application/json", body, body ? strlen(body) : 0);
    default:
        body = metrics_text(s, &len);
        return answer(r, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
    }
}

/* ---- the body of POST /v1/emotions ---- */

/* Append n bytes to the image (within --max-body, so bounded); 0 when out of memory. */
static int body_append(req *r, const char *data, size_t n) {
    if (n == 0) return 1;
    if (r->len + n > r->cap) {
        size_t nc = r->cap ? r->cap : 64 * 1024;
        while (nc < r->len + n) nc *= 2;
        uint8_t *b = realloc(r->body, nc);
        if (!b) return 0;
        r->body = b;
        r->cap = nc;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return 1;
}

/* libmicrohttpd's multipart parser hands over the fields piece by piece:
 * keep field "image" (and its file name for the answer). */
static enum MHD_Result on_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                const char *ctype, const char *enc, const char *data, uint64_t off, size_t size) {
    req *r = cls;
    (void)kind, (void)ctype, (void)enc;
    if (!key || strcmp(key, "image") != 0) return MHD_YES;
    if (off == 0 && filename && *filename) snprintf(r->name, sizeof r->name, "%s", filename);
    r->got_field = 1;
    if (body_append(r, data, size)) return MHD_YES;
    r->pp_failed = 1;
    return MHD_NO;
}

/* ?detect=0|1 and, for a multipart body, its parser. */
static enum MHD_Result body_setup(req *r) {
    const char *d = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "detect");
    r->detect = 1;
    if (d && (!strcmp(d, "0") || !strcasecmp(d, "false"))) r->detect = 0;
    else if (d && strcmp(d, "1") != 0 && strcasecmp(d, "true") != 0) return fail(r, 400, "detect must be 0 or 1");
    snprintf(r->name, sizeof r->name, "upload");
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (ct && !strncasecmp(ct, "multipart/form-data", 19)) {
        r->pp = MHD_create_post_processor(r->conn, 64 * 1024, on_field, r);
        if (!r->pp) return fail(r, 400, "bad multipart/form-data header (no boundary?)");
    }
    return MHD_YES;
}

/* A piece of the body: counted against --max-body (multipart framing
 * included) before it is kept, so memory stays bounded. A body without
 * Content-Length (chunked) that goes over it cannot be answered at once:
 * libmicrohttpd accepts an answer only before the body or after all of it.
 * So the rest is read and dropped, and 413 answered at its end; a client
 * that sends more than twice the limit is cut off. */
static enum MHD_Result take_body(req *r, const char *data, size_t *n) {
    size_t k = *n;
    *n = 0;
    r->received += (long long)k;
    if (r->received > r->s->o.max_body) {
        r->over = 1;
        return r->received > 2 * r->s->o.max_body ? MHD_NO : MHD_YES;
    }
    if (r->pending) return MHD_YES;   /* refused already: dropped */
    if (r->pp) {
        if (MHD_post_process(r->pp, data, k) != MHD_YES)
            return r->pp_failed ? fail(r, 500, "out of memory") : fail(r, 400, "bad multipart/form-data body");
    } else if (!body_append(r, data, k)) {
        return fail(r, 500, "out of memory");
    }
    return MHD_YES;
}

/* The body is complete: queue the image (or answer 400 / 503). The slot is
 * reserved and the connection suspended BEFORE a worker can see the job, so
 * that its resume never comes first. */
static enum MHD_Result body_done(req *r) {
    server *s = r->s;
    if (r->pending) return fail(r, r->pending, r->pending_msg);
    if (r->over) {
        char msg[96];
        snprintf(msg, sizeof msg, "body is over the limit of %lld bytes", s->o.max_body);
        return fail(r, 413, msg);
    }
    if (r->pp) {
        enum MHD_Result ok = MHD_destroy_post_processor(r->pp);
        r->pp = NULL;
        if (ok != MHD_YES) return fail(r, 400, "bad multipart/form-data body (cut short?)");
        if (!r->got_field) return fail(r, 400, "the multipart body has no field 'image'");
    }
    if (r->len == 0) return fail(r, 400, "empty body: send a JPEG or PNG image");
    pthread_mutex_lock(&s->mu);
    int ok = !s->closing && s->queued < s->o.queue;   /* begun before a SIGTERM: still served */
    if (ok) s->queued++;
    pthread_mutex_unlock(&s->mu);
    if (!ok) return fail(r, 503, "busy: every worker is taken and the queue is full; retry");
    r->state = ST_QUEUED;
    MHD_suspend_connection(r->conn);
    pthread_mutex_lock(&s->mu);
    if (s->tail) s->tail->next = r;
    else s->head = r;
    s->tail = r;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return MHD_YES;
}

/* An error found on the first call. Said at once when the request has no
 * body (or a Content-Length over the limit: better a reset connection than
 * reading gigabytes); otherwise the body is read and dropped first (bounded
 * by take_body), since a client still sending a body it was not read would
 * see the connection reset instead of the answer (browsers send no
 * "Expect: 100-continue"). */
static enum MHD_Result refuse(req *r, int code, const char *msg) {
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (code == 413 || !((cl && strtoll(cl, NULL, 10) > 0) || te)) return fail(r, code, msg);
    r->pending = code;
    snprintf(r->pending_msg, sizeof r->pending_msg, "%s", msg);
    return MHD_YES;
}

/* The first call of a request: route, method, token, size. */
static enum MHD_Result first_call(req *r, const char *url, const char *method) {
    server *s = r->s;
    int needs_token = 0, post = 0;
    r->route = route_of(url, &needs_token, &post);
    int is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (r->route == R_NONE) return refuse(r, 404, "no such page (see GET / and POST /v1/emotions)");
    if (post ? strcmp(method, "POST") != 0 : !is_get) return refuse(r, 405, post ? "use POST" : "use GET");
    if (needs_token && !token_ok(s, r->conn)) return refuse(r, 401, "missing or wrong 'Authorization: Bearer' token");
    if (!post) return answer_get(r);
    pthread_mutex_lock(&s->mu);
    int draining = s->draining;
    pthread_mutex_unlock(&s->mu);
    if (draining) return refuse(r, 503, "shutting down");
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoll(cl, NULL, 10) > s->o.max_body) {
        char msg[128];
        snprintf(msg, sizeof msg, "body of %.30s bytes is over the limit of %lld bytes", cl, s->o.max_body);
        return refuse(r, 413, msg);
    }
    return body_setup(r);
}

/* libmicrohttpd's access handler: called once with the headers, then for
 * each piece of the body, then once more with none; and once again after a
 * worker resumed the connection. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    server *s = cls;
    req *r = *con_cls;
    (void)version;
    if (!r) {
        if (!(r = calloc(1, sizeof *r))) return MHD_NO;
        *r = (req){.s = s, .conn = conn, .t0 = ferc_now(), .route = R_NONE, .state = ST_RECEIVING};
        *con_cls = r;
        pthread_mutex_lock(&s->mu);
        s->active++;
        pthread_mutex_unlock(&s->mu);
        return first_call(r, url, method);
    }
    if (r->state == ST_ANSWERED) { *upload_data_size = 0; return MHD_YES; }
    if (*upload_data_size) return take_body(r, upload_data, upload_data_size);
    if (r->state == ST_RECEIVING) return body_done(r);
    if (r->state == ST_DONE) {
        char *body = r->rbody;
        r->rbody = NULL;
        return answer(r, r->rcode, "application/json", body, r->rlen);
    }
    return MHD_YES;
}

/* The end of a request (answered, or the connection dropped): count it, free it. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    server *s = cls;
    req *r = *con_cls;
    (void)conn, (void)toe;
    if (!r) return;
    *con_cls = NULL;
    if (r->pp) MHD_destroy_post_processor(r->pp);
    pthread_mutex_lock(&s->mu);
    /* a client gone before its turn is not answered at all: count its 499 */
    int code = r->code ? r->code : r->rcode == 499 ? 499 : 0;
    if (code) metrics_add(&s->m, r, code, ferc_now() - r->t0);
    s->active--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    free(r->body);
    free(r->rbody);
    free(r);
}

static void mhd_log(void *cls, const char *f, va_list ap) {
    (void)cls;
    fputs("ferc serve: libmicrohttpd: ", stderr);
    vfprintf(stderr, f, ap);
}

/* ---- start and stop ---- */

/* GET /v1/model, made once: the model never changes while serving. */
static char *model_json(const char *path, const ferc_model *m, int workers, long long max_body) {
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) return NULL;
    const char *base = strrchr(path, '/');
    fputs("{\"model\": ", f);
    cli_json_str(f, base ? base + 1 : path);
    fputs(", \"path\": ", f);
    cli_json_str(f, path);
    fputs(", \"arch\": ", f);
    cli_json_str(f, ferc_model_arch(m));
    fprintf(f, ", \"input_size\": %d, \"parameters\": %zu, \"classes\": [", ferc_model_input_size(m),
            ferc_model_num_params(m));
    for (int k = 0; k < FERC_NUM_CLASSES; k++) fprintf(f, "%s\"%s\"", k ? ", " : "", ferc_label_name(k));
    fprintf(f, "], \"workers\": %d, \"max_body\": %lld}\n", workers, max_body);
    if (fclose(f) != 0) { free(buf); return NULL; }
    return buf;
}

/* The model once per worker (see the top of the file) and the cascade. 0 or 1 (said). */
static int load_all(server *s) {
    ferc_error err = {0};
    char mbuf[PATH_MAX];
    const char *path = cli_model_path("serve", s->o.model_path, mbuf, sizeof mbuf);
    if (!path) return 1;
    s->nworkers = s->o.threads > 0 ? s->o.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (s->nworkers < 1) s->nworkers = 1;
    if (!(s->w = calloc((size_t)s->nworkers, sizeof *s->w))) return fprintf(stderr, "ferc serve: out of memory\n"), 1;
    for (int i = 0; i < s->nworkers; i++) {
        s->w[i].s = s;
        if (ferc_model_load(path, &s->w[i].model, &err) != FERC_OK) return cli_error(&err);
    }
    if (ferc_cascade_load(s->o.cascade_path, &s->cascade, &err) != FERC_OK) return cli_error(&err);
    cli_say_model(path, s->w[0].model);
    s->input_size = ferc_model_input_size(s->w[0].model);
    if (!(s->model_json = model_json(path, s->w[0].model, s->nworkers, s->o.max_body)))
        return fprintf(stderr, "ferc serve: out of memory\n"), 1;
    return 0;
}

/* Listen on --host:--port; 0 or 1 (said). */
static int start_daemon(server *s) {
    char port[16];
    snprintf(port, sizeof port, "%d", s->o.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *ai = NULL;
    int gai = getaddrinfo(s->o.host, port, &hints, &ai);
    if (gai != 0) return fprintf(stderr, "ferc serve: --host %s: %s\n", s->o.host, gai_strerror(gai)), 1;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                     (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                            MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->o.timeout, MHD_OPTION_NOTIFY_COMPLETED,
                            on_completed, s, MHD_OPTION_CONNECTION_LIMIT, 1000u,
                            MHD_OPTION_END);
    int v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    if (!s->d) return fprintf(stderr, "ferc serve: cannot listen on %s port %d (in use? try --port 0)\n", s->o.host, s->o.port), 1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    printf("ferc serve: listening on http://%s%s%s:%u/ (%d worker%s, queue %d, %s)\n", v6 ? "[" : "", s->o.host,
           v6 ? "]" : "", info ? info->port : (unsigned)s->o.port, s->nworkers, s->nworkers == 1 ? "" : "s", s->o.queue,
           s->o.token ? "token required" : "no token");
    fflush(stdout);
    return 0;
}

static int is_loopback(const char *host) {
    return !strcmp(host, "127.0.0.1") || !strcmp(host, "::1") || !strcmp(host, "localhost") || !strncmp(host, "127.", 4);
}

/* SIGTERM / SIGINT: stop listening, let every request begun finish (the
 * queue first; then the answers written, for at most --timeout + 2 s more),
 * then stop. */
static void drain(server *s, int sig) {
    fprintf(stderr, "ferc serve: %s: finishing the requests in flight\n", sig == SIGINT ? "interrupted" : "terminated");
    MHD_socket lfd = MHD_quiesce_daemon(s->d);
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
    pthread_mutex_lock(&s->mu);
    s->draining = 1;
    /* a queued job's connection is suspended: never stop before it is answered */
    double deadline = ferc_now() + s->o.timeout + 2;
    while (s->queued || s->busy || (s->active > 0 && ferc_now() < deadline)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    s->closing = 1;   /* past the deadline: a body that completes now is refused, not queued */
    while (s->queued || s->busy) pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

static int start_workers(server *s) {
    for (int i = 0; i < s->nworkers; i++) {
        s->o.find.detect.threads = 1;
        if (pthread_create(&s->w[i].tid, NULL, worker_main, &s->w[i]) != 0) {
            fprintf(stderr, "ferc serve: cannot start worker thread %d\n", i + 1);
            return i;
        }
    }
    return s->nworkers;
}

static void stop_all(server *s, int started) {
    if (s->d) MHD_stop_daemon(s->d);
    pthread_mutex_lock(&s->mu);
    s->stop_workers = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < started; i++) pthread_join(s->w[i].tid, NULL);
    for (int i = 0; s->w && i < s->nworkers; i++) {
        ferc_model_free(s->w[i].model);
        ferc_faces_free(&s->w[i].found);
    }
    free(s->w);
    ferc_cascade_free(s->cascade);
    free(s->model_json);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

/* ---- the command ---- */

static const char *const options[] = {
    "--help", "--host", "--port", "--model", "--threads", "--token", "--max-body", "--max-pixels", "--queue",
    "--timeout", "--margin", "--scale-factor", "--min-neighbors", "--min-size", "--max-size", "--cascade",
    "--max-faces", "--largest", NULL};

static int ll_option(const char *a, const char *v, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return cli_usage_error("serve", "%s: '%s' is not a whole number in %lld..%lld", a, v, lo, hi), 0;
    *out = x;
    return 1;
}

/* -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, serve_opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
#define VAL() do { if (!(v = cli_value(argc, argv, &i, a))) return 2; } while (0)
#define NUM(lo, hi, dst) do { VAL(); if (!cli_int("serve", a, v, lo, hi, dst)) return 2; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); return 0; }
        else if (cli_is(a, "--host")) { VAL(); o->host = v; }
        else if (cli_is(a, "--port")) NUM(0, 65535, &o->port);
        else if (cli_is(a, "--model")) { VAL(); o->model_path = v; }
        else if (cli_is(a, "--threads")) NUM(0, 256, &o->threads);
        else if (cli_is(a, "--queue")) NUM(1, 100000, &o->queue);
        else if (cli_is(a, "--timeout")) NUM(1, 3600, &o->timeout);
        else if (cli_is(a, "--token")) { VAL(); o->token = v; }
        else if (cli_is(a, "--max-body")) { VAL(); if (!ll_option(a, v, 1, 1LL << 32, &o->max_body)) return 2; }
        else if (cli_is(a, "--max-pixels")) {
            VAL();
            if (!ll_option(a, v, 1, FERC_MAX_IMAGE_PIXELS, &o->max_pixels)) return 2;
        } else {
            int face = cli_face_option(argc, argv, &i, &o->find, &o->cascade_path);
            if (face < 0) return 2;
            if (!face && a[0] == '-') return cli_unknown_option("serve", a, options);
            if (!face) return cli_usage_error("serve", "unexpected argument '%s'", a);
        }
#undef NUM
#undef VAL
    }
    if (o->token && !*o->token) return cli_usage_error("serve", "--token: the token is empty");
    return -1;
}

int cmd_serve(int argc, char **argv) {
    static server s;   /* static: large, and reached from libmicrohttpd's threads */
    memset(&s, 0, sizeof s);
    s.o = (serve_opts){.host = "127.0.0.1", .port = 8080, .queue = 64, .timeout = 10, .max_body = 10 * 1024 * 1024,
                       .max_pixels = 40000000, .token = getenv("FERC_SERVE_TOKEN")};
    if (s.o.token && !*s.o.token) s.o.token = NULL;
    ferc_find_opts_default(&s.o.find);
    int rc = parse_args(argc, argv, &s.o);
    if (rc >= 0) return rc;
    /* every thread started from here on inherits this mask; main takes the signals with sigwait */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    int started = 0;
    rc = load_all(&s);
    if (!rc && (started = start_workers(&s)) < s.nworkers) rc = 1;
    if (!rc) rc = start_daemon(&s);
    if (!rc && !is_loopback(s.o.host) && !s.o.token)
        fprintf(stderr, "ferc serve: warning: listening on %s without --token: anyone who can reach this machine "
                        "can use the service\n", s.o.host);
    if (!rc) {
        int sig = 0;
        sigwait(&set, &sig);
        drain(&s, sig);
    }
    stop_all(&s, started);
    if (!rc) fprintf(stderr, "ferc serve: stopped\n");
    return rc;
}
