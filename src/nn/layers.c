/* layers.c — forward and backward passes of every layer type, on NCHW float
 * buffers, plus the naive reference kernels the tests compare them with.
 * Each op carries a one-line formula. OpenMP splits work over images or
 * channels with static schedules, so a fixed thread count is deterministic.
 * These ops are the layer-by-layer executor's (exec_layers.c); the default
 * fused executor (fused.c) runs conv -> bn -> relu [-> pool] [-> dropout]
 * blocks with its own kernels (fused_block.c) and calls these for the other
 * layers only. */
#include "nn/nn.h"

#include <dnnl.h>
#include <math.h>
#include <omp.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* GEMM                                                                      */
/* ------------------------------------------------------------------------ */

static void sgemm1(char ta, char tb, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    dnnl_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* C (M,N) = alpha op(A) op(B) + beta C; the larger of M, N is split over threads. */
void gemm(char ta, char tb, int M, int N, int K, float alpha, const float *A, int lda,
          const float *B, int ldb, float beta, float *C, int ldc, int threads) {
    if (threads <= 1 || omp_in_parallel() || (long)M * N * K < (1L << 18)) {
        /* dnnl_sgemm would use every OpenMP thread outside a parallel region */
        int old = omp_get_max_threads();
        omp_set_num_threads(1);
        sgemm1(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        omp_set_num_threads(old);
        return;
    }
    int split_m = M >= N;
    int dim = split_m ? M : N;
#pragma omp parallel num_threads(threads)
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int chunk = (dim + nt - 1) / nt;
        chunk = (chunk + 15) & ~15;
        int lo = t * chunk, hi = lo + chunk < dim ? lo + chunk : dim;
        if (lo < hi) {
            if (split_m) {
                const float *a = (ta == 'N') ? A + (size_t)lo * lda : A + lo;
                sgemm1(ta, tb, hi - lo, N, K, alpha, a, lda, B, ldb, beta, C + (size_t)lo * ldc, ldc);
            } else {
                const float *b = (tb == 'N') ? B + lo : B + (size_t)lo * ldb;
                sgemm1(ta, tb, M, hi - lo, K, alpha, A, lda, b, ldb, beta, C + lo, ldc);
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* conv2d: y[n,k,i,j] = b[k] + sum_{c,u,v} w[k,c,u,v] x[n,c,i+u-p,j+v-p]      */
/* ------------------------------------------------------------------------ */

/* col (C*ks*ks, OH*OW) from one image x (C,H,W), zero padding. */
static void im2col(const float *x, int C, int H, int W, int ks, int pad, int OH, int OW,
                   float *col) {
    for (int c = 0; c < C; c++)
        for (int u = 0; u < ks; u++)
            for (int v = 0; v < ks; v++) {
                float *row = col + ((size_t)(c * ks + u) * ks + v) * OH * OW;
                int j0 = pad - v > 0 ? pad - v : 0;           /* first j with x index >= 0 */
                int j1 = W + pad - v < OW ? W + pad - v : OW; /* one past last valid j */
                for (int i = 0; i < OH; i++) {
                    int iy = i + u - pad;
                    float *r = row + (size_t)i * OW;
                    if (iy < 0 || iy >= H || j1 <= j0) { memset(r, 0, sizeof(float) * OW); continue; }
                    const float *xr = x + ((size_t)c * H + iy) * W + (v - pad);
                    for (int j = 0; j < j0; j++) r[j] = 0;
                    memcpy(r + j0, xr + j0, sizeof(float) * (size_t)(j1 - j0));
                    for (int j = j1; j < OW; j++) r[j] = 0;
                }
            }
}

/* x (C,H,W) += scatter of col (C*ks*ks, OH*OW); x must be zeroed first. */
static void col2im(const float *col, int C, int H, int W, int ks, int pad, int OH, int OW,
                   float *x) {
    for (int c = 0; c < C; c++)
        for (int u = 0; u < ks; u++)
            for (int v = 0; v < ks; v++) {
                const float *row = col + ((size_t)(c * ks + u) * ks + v) * OH * OW;
                int j0 = pad - v > 0 ? pad - v : 0;
                int j1 = W + pad - v < OW ? W + pad - v : OW;
                for (int i = 0; i < OH; i++) {
                    int iy = i + u - pad;
                    if (iy < 0 || iy >= H) continue;
                    const float *r = row + (size_t)i * OW;
                    float *xr = x + ((size_t)c * H + iy) * W + (v - pad);
                    for (int j = j0; j < j1; j++) xr[j] += r[j];
                }
            }
}

/* im2col / col2im for stride s > 1 (the stride-1 versions above stay as
 * they were, so that old nets compute bit for bit what they did):
 * col[(c,u,v), (i,j)] = x[c, i*s+u-pad, j*s+v-pad]. */
static void im2col_s(const float *x, int C, int H, int W, int ks, int pad, int s, int OH, int OW,
                     float *col) {
    for (int c = 0; c < C; c++)
        for (int u = 0; u < ks; u++)
            for (int v = 0; v < ks; v++) {
                float *row = col + ((size_t)(c * ks + u) * ks + v) * OH * OW;
                for (int i = 0; i < OH; i++) {
                    int iy = i * s + u - pad;
                    float *r = row + (size_t)i * OW;
                    if (iy < 0 || iy >= H) { memset(r, 0, sizeof(float) * OW); continue; }
                    const float *xr = x + ((size_t)c * H + iy) * W;
                    for (int j = 0; j < OW; j++) {
                        int ix = j * s + v - pad;
                        r[j] = ix >= 0 && ix < W ? xr[ix] : 0.0f;
                    }
                }
            }
}

static void col2im_s(const float *col, int C, int H, int W, int ks, int pad, int s, int OH, int OW,
                     float *x) {
    for (int c = 0; c < C; c++)
        for (int u = 0; u < ks; u++)
            for (int v = 0; v < ks; v++) {
                const float *row = col + ((size_t)(c * ks + u) * ks + v) * OH * OW;
                for (int i = 0; i < OH; i++) {
                    int iy = i * s + u - pad;
                    if (iy < 0 || iy >= H) continue;
                    const float *r = row + (size_t)i * OW;
                    float *xr = x + ((size_t)c * H + iy) * W;
                    for (int j = 0; j < OW; j++) {
                        int ix = j * s + v - pad;
                        if (ix >= 0 && ix < W) xr[ix] += r[j];
                    }
                }
            }
}

static void l_im2col(const layer *l, const float *x, float *col) {
    if (l->stride > 1) im2col_s(x, l->c, l->h, l->w, l->k, l->pad, l->stride, l->oh, l->ow, col);
    else im2col(x, l->c, l->h, l->w, l->k, l->pad, l->oh, l->ow, col);
}

static void l_col2im(const layer *l, const float *col, float *x) {
    if (l->stride > 1) col2im_s(col, l->c, l->h, l->w, l->k, l->pad, l->stride, l->oh, l->ow, x);
    else col2im(col, l->c, l->h, l->w, l->k, l->pad, l->oh, l->ow, x);
}

/* The layer-by-layer conv (exec_layers.c runs it). Not the default path: a
 * conv followed by bn and relu runs inside a fused block, on a oneDNN
 * primitive (fused_dnn.c: fused_conv_forward / fused_conv_backward, called
 * from fused_block.c), and only the other convs come here. */
static void conv_forward(layer *l, const float *in, int N, const exec_ctx *x) {
    const int C = l->c, H = l->h, W = l->w, K = l->oc, ks = l->k;
    const int OH = l->oh, OW = l->ow, CKK = C * ks * ks, HW = OH * OW;
    const float *w = l->param, *b = l->param + (size_t)K * CKK;
#pragma omp parallel for num_threads(x->threads) schedule(static)
    for (int n = 0; n < N; n++) {
        float *col = l->scratch + (size_t)omp_get_thread_num() * l->scratch_per_thread;
        float *y = l->out + (size_t)n * K * HW;
        l_im2col(l, in + (size_t)n * C * H * W, col);
        sgemm1('N', 'N', K, HW, CKK, 1.0f, w, CKK, col, HW, 0.0f, y, HW); /* (K,HW) */
        for (int k = 0; k < K; k++) {
            float bk = b[k];
            float *yk = y + (size_t)k * HW;
            for (int i = 0; i < HW; i++) yk[i] += bk;
        }
    }
}

static void conv_backward(layer *l, const float *in, const float *dout, float *din, int N,
                          const exec_ctx *x) {
    const int C = l->c, H = l->h, W = l->w, K = l->oc, ks = l->k;
    const int OH = l->oh, OW = l->ow, CKK = C * ks * ks, HW = OH * OW;
    const float *w = l->param;
    int nt = x->threads;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num();
        float *col = l->scratch + (size_t)t * l->scratch_per_thread;
        float *dcol = col + (size_t)CKK * HW;
        float *dw = dcol + (size_t)CKK * HW;    /* (K, CKK) this thread's sum */
        float *db = dw + (size_t)K * CKK;       /* (K) */
        memset(dw, 0, sizeof(float) * ((size_t)K * CKK + K));
#pragma omp for schedule(static)
        for (int n = 0; n < N; n++) {
            const float *dy = dout + (size_t)n * K * HW;
            l_im2col(l, in + (size_t)n * C * H * W, col);
            /* dW += dY (K,HW) col^T (HW,CKK) */
            sgemm1('N', 'T', K, CKK, HW, 1.0f, dy, HW, col, HW, 1.0f, dw, CKK);
            for (int k = 0; k < K; k++) {
                float s = 0;
                const float *dyk = dy + (size_t)k * HW;
                for (int i = 0; i < HW; i++) s += dyk[i];
                db[k] += s;
            }
            if (din) {
                /* dcol (CKK,HW) = W^T (CKK,K) dY (K,HW) */
                sgemm1('T', 'N', CKK, HW, K, 1.0f, w, CKK, dy, HW, 0.0f, dcol, HW);
                float *dx = din + (size_t)n * C * H * W;
                memset(dx, 0, sizeof(float) * (size_t)C * H * W);
                l_col2im(l, dcol, dx);
            }
        }
    }
    /* reduce the per-thread sums in thread order (deterministic) */
    size_t nw = (size_t)K * CKK + K;
    for (int t = 0; t < nt; t++) {
        const float *s = l->scratch + (size_t)t * l->scratch_per_thread + 2 * (size_t)CKK * HW;
        for (size_t i = 0; i < nw; i++) l->grad[i] += s[i];
    }
}

void ref_conv_forward(const float *x, const float *w, const float *b, float *y, int N, int C,
                      int H, int W, int K, int ks, int pad) {
    ref_conv_forward_s(x, w, b, y, N, C, H, W, K, ks, pad, 1);
}

void ref_conv_forward_s(const float *x, const float *w, const float *b, float *y, int N, int C,
                        int H, int W, int K, int ks, int pad, int st) {
    int OH = (H + 2 * pad - ks) / st + 1, OW = (W + 2 * pad - ks) / st + 1;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            for (int i = 0; i < OH; i++)
                for (int j = 0; j < OW; j++) {
                    double s = b ? b[k] : 0;
                    for (int c = 0; c < C; c++)
                        for (int u = 0; u < ks; u++)
                            for (int v = 0; v < ks; v++) {
                                int iy = i * st + u - pad, ix = j * st + v - pad;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                s += (double)w[((k * C + c) * ks + u) * ks + v] *
                                     x[((size_t)(n * C + c) * H + iy) * W + ix];
                            }
                    y[((size_t)(n * K + k) * OH + i) * OW + j] = (float)s;
                }
}

void ref_conv_backward(const float *x, const float *w, const float *dy, float *dx, float *dw,
                       float *db, int N, int C, int H, int W, int K, int ks, int pad) {
    ref_conv_backward_s(x, w, dy, dx, dw, db, N, C, H, W, K, ks, pad, 1);
}

void ref_conv_backward_s(const float *x, const float *w, const float *dy, float *dx, float *dw,
                         float *db, int N, int C, int H, int W, int K, int ks, int pad, int st) {
    int OH = (H + 2 * pad - ks) / st + 1, OW = (W + 2 * pad - ks) / st + 1;
    if (dx) memset(dx, 0, sizeof(float) * (size_t)N * C * H * W);
    memset(dw, 0, sizeof(float) * (size_t)K * C * ks * ks);
    memset(db, 0, sizeof(float) * (size_t)K);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            for (int i = 0; i < OH; i++)
                for (int j = 0; j < OW; j++) {
                    float g = dy[((size_t)(n * K + k) * OH + i) * OW + j];
                    db[k] += g;
                    for (int c = 0; c < C; c++)
                        for (int u = 0; u < ks; u++)
                            for (int v = 0; v < ks; v++) {
                                int iy = i * st + u - pad, ix = j * st + v - pad;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                size_t xi = ((size_t)(n * C + c) * H + iy) * W + ix;
                                size_t wi = ((size_t)(k * C + c) * ks + u) * ks + v;
                                dw[wi] += g * x[xi];
                                if (dx) dx[xi] += g * w[wi];
                            }
                }
}

/* ------------------------------------------------------------------------ */
/* batchnorm: y = gamma (x - mean) / sqrt(var + eps) + beta, per channel       */
/* ------------------------------------------------------------------------ */

static void bn_forward(layer *l, const float *in, int N, const exec_ctx *x) {
    const int C = l->c, HW = l->h * l->w;
    const float *gamma = l->param, *beta = l->param + C;
    float *rmean = l->state, *rvar = l->state + C;
    const double M = (double)N * HW;
#pragma omp parallel for num_threads(x->threads) schedule(static)
    for (int c = 0; c < C; c++) {
        float mean, invstd;
        if (x->training) {
            double s = 0, ss = 0;
            for (int n = 0; n < N; n++) {
                const float *p = in + ((size_t)n * C + c) * HW;
                float fs = 0;
                for (int i = 0; i < HW; i++) fs += p[i];
                s += fs;
            }
            double mu = s / M;
            for (int n = 0; n < N; n++) {
                const float *p = in + ((size_t)n * C + c) * HW;
                float fss = 0, fmu = (float)mu;
                for (int i = 0; i < HW; i++) { float d = p[i] - fmu; fss += d * d; }
                ss += fss;
            }
            double var = ss / M;
            mean = (float)mu;
            invstd = (float)(1.0 / sqrt(var + l->eps));
            /* running stats: r = (1 - m) r + m batch, unbiased variance */
            rmean[c] = (1 - l->momentum) * rmean[c] + l->momentum * mean;
            rvar[c] = (1 - l->momentum) * rvar[c] + l->momentum * (float)(M > 1 ? var * M / (M - 1) : var);
        } else {
            mean = rmean[c];
            invstd = 1.0f / sqrtf(rvar[c] + l->eps);
        }
        l->stat[c] = mean;
        l->stat[C + c] = invstd;
        float a = gamma[c] * invstd, bb = beta[c] - mean * a;
        for (int n = 0; n < N; n++) {
            const float *p = in + ((size_t)n * C + c) * HW;
            float *q = l->out + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) q[i] = p[i] * a + bb;
        }
    }
}

/* dx = gamma invstd (dy - mean(dy) - xhat mean(dy xhat)) in training,
 * dx = gamma invstd dy in eval; dgamma = sum dy xhat; dbeta = sum dy. */
static void bn_backward(layer *l, const float *in, const float *dout, float *din, int N,
                        const exec_ctx *x) {
    const int C = l->c, HW = l->h * l->w;
    const float *gamma = l->param;
    float *dgamma = l->grad, *dbeta = l->grad + C;
    const float M = (float)N * HW;
#pragma omp parallel for num_threads(x->threads) schedule(static)
    for (int c = 0; c < C; c++) {
        float mean = l->stat[c], invstd = l->stat[C + c];
        double sdy = 0, sdyx = 0;
        for (int n = 0; n < N; n++) {
            const float *p = in + ((size_t)n * C + c) * HW, *g = dout + ((size_t)n * C + c) * HW;
            float a = 0, b = 0;
            for (int i = 0; i < HW; i++) { a += g[i]; b += g[i] * (p[i] - mean); }
            sdy += a; sdyx += b;
        }
        sdyx *= invstd;  /* sum dy * xhat */
        dgamma[c] += (float)sdyx;
        dbeta[c] += (float)sdy;
        if (!din) continue;
        float k = gamma[c] * invstd;
        float mdy = x->training ? (float)(sdy / M) : 0.0f;
        float mdyx = x->training ? (float)(sdyx / M) : 0.0f;
        for (int n = 0; n < N; n++) {
            const float *p = in + ((size_t)n * C + c) * HW, *g = dout + ((size_t)n * C + c) * HW;
            float *d = din + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) {
                float xhat = (p[i] - mean) * invstd;
                d[i] = k * (g[i] - mdy - xhat * mdyx);
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* relu: y = max(x, 0)                                                        */
/* ------------------------------------------------------------------------ */

static void relu_forward(layer *l, const float *in, int N, const exec_ctx *x) {
    size_t n = (size_t)N * l->c * l->h * l->w;
    float *out = l->out;
#pragma omp parallel for num_threads(x->threads) schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : 0;
}

/* dx = dy [x > 0] */
static void relu_backward(layer *l, const float *in, const float *dout, float *din, int N,
                          const exec_ctx *x) {
    if (!din) return;
    size_t n = (size_t)N * l->c * l->h * l->w;
#pragma omp parallel for num_threads(x->threads) schedule(static)
    for (size_t i = 0; i < n; i++) din[i] = in[i] > 0 ? dout[i] : 0;
}

/* ------------------------------------------------------------------------ */
/* maxpool 2x2 stride 2: y[i,j] = max over x[2i..2i+1, 2j..2j+1]               */
/* ------------------------------------------------------------------------ */

static void pool_forward(layer *l, const float *in, int N, const exec_ctx *x) {
    const int H = l->h, W = l->w, OH = l->oh, OW = l->ow;
    const int planes = N * l->c;
#pragma omp parallel for num_threads(x->threads) schedule(static)
    for (int p = 0; p < planes; p++) {
        const float *xp = in + (size_t)p * H * W;
        float *yp = l->out + (size_t)p * OH * OW;
        int32_t *ip = l->idx + (size_t)p * OH * OW;
        for (int i = 0; i < OH; i++)
            for (int j = 0; j < OW; j++) {
                int a = (2 * i) * W + 2 * j;
                int best = a;
                if (xp[a + 1] > xp[best]) best = a + 1;
                if (xp[a + W] > xp[best]) best = a + W;
                if (xp[a + W + 1] > xp[best]) best = a + W + 1;
                yp[i * OW + j] = xp[best];
                ip[i * OW + j] = best;
            }
    }
}

/* dx[argmax] = dy, zero elsewhere */
static void pool_backward(layer *l, const float *in, const float *dout, float *din, int N,
                          const exec_ctx *x) {
    (void)in;
    if (!din) return;
    const int HW = l->h * l->w, OHW = l->oh * l->ow;
    const int planes = N * l->c;
#pragma omp parallel for num_threads(x->threads) schedule(static)
    for (int p = 0; p < planes; p++) {
        float *dp = din + (size_t)p * HW;
        const float *g = dout + (size_t)p * OHW;
        const int32_t *ip = l->idx + (size_t)p * OHW;
        memset(dp, 0, sizeof(float) * HW);
        for (int i = 0; i < OHW; i++) dp[ip[i]] += g[i];
    }
}

/* ------------------------------------------------------------------------ */
/* dropout: y = x m / (1 - p), m ~ Bernoulli(1 - p) (training); y = x (eval)   */
/* ------------------------------------------------------------------------ */

static void drop_forward(layer *l, const float *in, int N, const exec_ctx *x) {
    size_t n = (size_t)N * l->c * l->h * l->w;
    if (!x->training || l->p <= 0) {
        memcpy(l->out, in, sizeof(float) * n);
        return;
    }
    uint32_t thresh = (uint32_t)(l->p * 16777216.0f);
    float scale = 1.0f / (1.0f - l->p);
    float *out = l->out;
    uint8_t *mask = l->mask;
#pragma omp parallel for num_threads(x->threads) schedule(static)
    for (size_t i = 0; i < n; i++) {
        int k = dropout_keep(x->step_seed, l->index, i, thresh);
        mask[i] = (uint8_t)k;
        out[i] = k ? in[i] * scale : 0.0f;
    }
}

/* dx = dy m / (1 - p) */
static void drop_backward(layer *l, const float *in, const float *dout, float *din, int N,
                          const exec_ctx *x) {
    (void)in;
    if (!din) return;
    size_t n = (size_t)N * l->c * l->h * l->w;
    if (!x->training || l->p <= 0) { memcpy(din, dout, sizeof(float) * n); return; }
    float scale = 1.0f / (1.0f - l->p);
    const uint8_t *mask = l->mask;
#pragma omp parallel for num_threads(x->threads) schedule(static)
    for (size_t i = 0; i < n; i++) din[i] = mask[i] ? dout[i] * scale : 0.0f;
}

/* ------------------------------------------------------------------------ */
/* flatten: y = x viewed as (N, C*H*W)                                        */
/* ------------------------------------------------------------------------ */

static void flat_forward(layer *l, const float *in, int N, const exec_ctx *x) {
    (void)x;
    memcpy(l->out, in, sizeof(float) * (size_t)N * l->c * l->h * l->w);
}

static void flat_backward(layer *l, const float *in, const float *dout, float *din, int N,
                          const exec_ctx *x) {
    (void)in; (void)x;
    if (din) memcpy(din, dout, sizeof(float) * (size_t)N * l->c * l->h * l->w);
}

/* ------------------------------------------------------------------------ */
/* dense: y = x W^T + b, W (out, in)                                          */
/* ------------------------------------------------------------------------ */

static void dense_forward(layer *l, const float *in, int N, const exec_ctx *x) {
    const int I = l->c * l->h * l->w, O = l->oc;
    const float *W = l->param, *b = l->param + (size_t)O * I;
    gemm('N', 'T', N, O, I, 1.0f, in, I, W, I, 0.0f, l->out, O, x->threads);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) l->out[(size_t)n * O + o] += b[o];
}

/* dW += dy^T x; db += sum_n dy; dx = dy W */
static void dense_backward(layer *l, const float *in, const float *dout, float *din, int N,
                           const exec_ctx *x) {
    const int I = l->c * l->h * l->w, O = l->oc;
    const float *W = l->param;
    float *dW = l->grad, *db = l->grad + (size_t)O * I;
    gemm('T', 'N', O, I, N, 1.0f, dout, O, in, I, 1.0f, dW, I, x->threads);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) db[o] += dout[(size_t)n * O + o];
    if (din) gemm('N', 'N', N, I, O, 1.0f, dout, O, W, I, 0.0f, din, I, x->threads);
}

/* ------------------------------------------------------------------------ */

const layer_ops conv_ops = {.name = "conv", .forward = conv_forward, .backward = conv_backward};
const layer_ops bn_ops = {.name = "bn", .forward = bn_forward, .backward = bn_backward};
const layer_ops relu_ops = {.name = "relu", .forward = relu_forward, .backward = relu_backward};
const layer_ops pool_ops = {.name = "pool", .forward = pool_forward, .backward = pool_backward};
const layer_ops drop_ops = {.name = "drop", .forward = drop_forward, .backward = drop_backward};
const layer_ops flat_ops = {.name = "flatten", .forward = flat_forward, .backward = flat_backward};
const layer_ops dense_ops = {.name = "dense", .forward = dense_forward, .backward = dense_backward};

/* ------------------------------------------------------------------------ */
/* softmax cross-entropy: L = mean_i w_{y_i} (-log softmax(z_i)[y_i])          */
/* ------------------------------------------------------------------------ */

void softmax_rows(const float *logits, int N, int K, float *probs) {
    for (int i = 0; i < N; i++) {
        const float *z = logits + (size_t)i * K;
        float *p = probs + (size_t)i * K;
        float mx = z[0];
        for (int k = 1; k < K; k++) if (z[k] > mx) mx = z[k];
        double s = 0;
        for (int k = 0; k < K; k++) { p[k] = expf(z[k] - mx); s += p[k]; }
        for (int k = 0; k < K; k++) p[k] = (float)(p[k] / s);
    }
}

double softmax_xent(const float *logits, const int *labels, const float *onehot,
                    const float *w, int N, int K, float *dlogits, float *probs) {
    double total = 0;
    for (int i = 0; i < N; i++) {
        const float *z = logits + (size_t)i * K;
        float mx = z[0];
        for (int k = 1; k < K; k++) if (z[k] > mx) mx = z[k];
        double s = 0;
        for (int k = 0; k < K; k++) s += exp((double)z[k] - mx);
        double lse = mx + log(s);
        /* target distribution t: one-hot of the label, or the given row */
        double wi = 1.0, li = 0;
        if (onehot) {
            const float *t = onehot + (size_t)i * K;
            double ws = 0;
            for (int k = 0; k < K; k++) { li += t[k] * (lse - z[k]); ws += w ? t[k] * w[k] : t[k]; }
            wi = w ? ws : 1.0;
        } else {
            li = lse - z[labels[i]];
            wi = w ? w[labels[i]] : 1.0;
        }
        total += wi * li;
        for (int k = 0; k < K; k++) {
            double pk = exp((double)z[k] - lse);
            if (probs) probs[(size_t)i * K + k] = (float)pk;
            if (dlogits) {
                double tk = onehot ? onehot[(size_t)i * K + k] : (k == labels[i]);
                dlogits[(size_t)i * K + k] = (float)(wi * (pk - tk) / N);
            }
        }
    }
    return total / N;
}
