/* graph.c — a small builder for ONNX graphs over the protobuf-c messages
 * generated from onnx.proto: nodes, attributes and float initializers are
 * appended as the exporter walks a network, and og_finish packs the model
 * with protobuf-c and writes it atomically. Kept apart from onnx.c so that
 * the exporter reads as "which ONNX nodes a ferc layer is", not as message
 * plumbing. */
#include "export/export.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Grow an array of pointers by one slot: 0 when out of memory. */
static int push(onnx_graph *g, void ***arr, size_t *n, size_t *cap, void *item) {
    if (g->oom || !item) return 0;
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 64;
        void **na = realloc(*arr, nc * sizeof *na);
        if (!na) { g->oom = 1; return 0; }
        *arr = na; *cap = nc;
    }
    (*arr)[(*n)++] = item;
    return 1;
}

void *og_alloc(onnx_graph *g, size_t n) {
    if (g->oom) return NULL;
    void *p = calloc(1, n ? n : 1);
    if (!p) { g->oom = 1; return NULL; }
    if (!push(g, &g->allocs, &g->nallocs, &g->capallocs, p)) { free(p); return NULL; }
    return p;
}

char *og_strdup(onnx_graph *g, const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *c = og_alloc(g, n);
    if (c) memcpy(c, s, n);
    return c;
}

char *og_name(onnx_graph *g, const char *stem) {
    char buf[160];
    snprintf(buf, sizeof buf, "%s_%d", stem, g->names++);
    return og_strdup(g, buf);
}

static Onnx__AttributeProto *attr_new(onnx_graph *g, const char *name, Onnx__AttributeProto__AttributeType t) {
    Onnx__AttributeProto *a = og_alloc(g, sizeof *a);
    if (!a) return NULL;
    onnx__attribute_proto__init(a);
    a->name = og_strdup(g, name);
    a->has_type = 1;
    a->type = t;
    return a->name ? a : NULL;
}

Onnx__AttributeProto *og_attr_int(onnx_graph *g, const char *name, int64_t v) {
    Onnx__AttributeProto *a = attr_new(g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) { a->has_i = 1; a->i = v; }
    return a;
}

Onnx__AttributeProto *og_attr_float(onnx_graph *g, const char *name, float v) {
    Onnx__AttributeProto *a = attr_new(g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) { a->has_f = 1; a->f = v; }
    return a;
}

Onnx__AttributeProto *og_attr_ints(onnx_graph *g, const char *name, const int64_t *v, int n) {
    Onnx__AttributeProto *a = attr_new(g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *c = og_alloc(g, sizeof *c * (size_t)n);
    if (!a || !c) return NULL;
    memcpy(c, v, sizeof *c * (size_t)n);
    a->n_ints = (size_t)n;
    a->ints = c;
    return a;
}

/* Weights go in raw_data, little-endian float32 as ONNX specifies: the
 * model's own memory on a little-endian host (the only kind ferc builds on,
 * x86-64 and arm64). */
const char *og_weight(onnx_graph *g, const char *stem, const int64_t *dims, int nd, const float *data, int copy) {
    Onnx__TensorProto *t = og_alloc(g, sizeof *t);
    int64_t *d = og_alloc(g, sizeof *d * (size_t)(nd ? nd : 1));
    if (!t || !d) return NULL;
    onnx__tensor_proto__init(t);
    size_t count = 1;
    for (int i = 0; i < nd; i++) { d[i] = dims[i]; count *= (size_t)dims[i]; }
    const size_t bytes = count * sizeof(float);
    uint8_t *raw = copy ? og_alloc(g, bytes) : (uint8_t *)(uintptr_t)data;
    if (!raw) return NULL;
    if (copy) memcpy(raw, data, bytes);
    t->n_dims = (size_t)nd; t->dims = d;
    t->has_data_type = 1; t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->has_raw_data = 1; t->raw_data.len = bytes; t->raw_data.data = raw;
    t->name = og_name(g, stem);
    if (!t->name || !push(g, (void ***)&g->inits, &g->ninits, &g->capinits, t)) return NULL;
    return t->name;
}

const char *og_node(onnx_graph *g, const char *op, const char *const *in, int nin, const char *stem,
                    const char *out, Onnx__AttributeProto *const *attr, int nattr) {
    for (int i = 0; i < nin; i++) if (!in[i]) return NULL;
    Onnx__NodeProto *n = og_alloc(g, sizeof *n);
    char **ins = og_alloc(g, sizeof *ins * (size_t)(nin ? nin : 1));
    char **outs = og_alloc(g, sizeof *outs);
    Onnx__AttributeProto **as = og_alloc(g, sizeof *as * (size_t)(nattr ? nattr : 1));
    if (!n || !ins || !outs || !as) return NULL;
    onnx__node_proto__init(n);
    for (int i = 0; i < nin; i++) ins[i] = (char *)(uintptr_t)in[i];
    size_t na = 0;
    for (int i = 0; i < nattr; i++) {
        if (!attr[i]) return NULL;   /* an attribute that failed to allocate */
        as[na++] = attr[i];
    }
    outs[0] = out ? og_strdup(g, out) : og_name(g, stem);
    n->op_type = og_strdup(g, op);
    n->name = og_name(g, op);
    if (!outs[0] || !n->op_type || !n->name) return NULL;
    n->n_input = (size_t)nin; n->input = ins;
    n->n_output = 1; n->output = outs;
    n->n_attribute = na; n->attribute = as;
    if (!push(g, (void ***)&g->nodes, &g->nnodes, &g->capnodes, n)) return NULL;
    return outs[0];
}

void og_free(onnx_graph *g) {
    for (size_t i = 0; i < g->nallocs; i++) free(g->allocs[i]);
    free(g->allocs); free(g->nodes); free(g->inits);
    memset(g, 0, sizeof *g);
}

/* A float tensor value (graph input or output) of shape dims; -1 is the
 * symbolic batch dimension "N". */
static Onnx__ValueInfoProto *value_info(onnx_graph *g, const char *name, const int64_t *dims, int nd) {
    Onnx__ValueInfoProto *v = og_alloc(g, sizeof *v);
    Onnx__TypeProto *t = og_alloc(g, sizeof *t);
    Onnx__TypeProto__Tensor *tt = og_alloc(g, sizeof *tt);
    Onnx__TensorShapeProto *s = og_alloc(g, sizeof *s);
    Onnx__TensorShapeProto__Dimension **dv = og_alloc(g, sizeof *dv * (size_t)nd);
    if (!v || !t || !tt || !s || !dv) return NULL;
    onnx__value_info_proto__init(v); onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt); onnx__tensor_shape_proto__init(s);
    for (int i = 0; i < nd; i++) {
        Onnx__TensorShapeProto__Dimension *d = dv[i] = og_alloc(g, sizeof *d);
        if (!d) return NULL;
        onnx__tensor_shape_proto__dimension__init(d);
        if (dims[i] < 0) { d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM; d->dim_param = og_strdup(g, "N"); }
        else { d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE; d->dim_value = dims[i]; }
    }
    s->n_dim = (size_t)nd; s->dim = dv;
    tt->has_elem_type = 1; tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT; tt->shape = s;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE; t->tensor_type = tt;
    v->name = og_strdup(g, name); v->type = t;
    return g->oom ? NULL : v;
}

/* The metadata_props entries. */
static Onnx__StringStringEntryProto **metadata(onnx_graph *g, const onnx_model_info *info) {
    Onnx__StringStringEntryProto **m = og_alloc(g, sizeof *m * (size_t)(info->nmeta ? info->nmeta : 1));
    for (int i = 0; m && i < info->nmeta; i++) {
        Onnx__StringStringEntryProto *e = m[i] = og_alloc(g, sizeof *e);
        if (!e) return NULL;
        onnx__string_string_entry_proto__init(e);
        e->key = og_strdup(g, info->meta[2 * i]);
        e->value = og_strdup(g, info->meta[2 * i + 1]);
    }
    return g->oom ? NULL : m;
}

/* Write n bytes to a temporary file beside path and rename it into place;
 * the temporary file is removed on any failure. */
static ferc_status write_atomic(const char *path, const uint8_t *p, size_t n, ferc_error *err) {
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 32);
    if (!tmp) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    snprintf(tmp, pl + 32, "%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        ferc_status st = ferc_fail(err, FERC_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    int bad = fwrite(p, 1, n, f) != n || fflush(f) != 0 || fsync(fileno(f)) != 0;
    int e = errno;
    bad |= fclose(f) != 0;
    if (!bad && rename(tmp, path) != 0) { bad = 1; e = errno; }
    ferc_status st = bad ? ferc_fail(err, FERC_ERR_IO, "%s: write failed: %s", path, strerror(e ? e : EIO)) : FERC_OK;
    if (bad) unlink(tmp);
    free(tmp);
    return st;
}

/* The ModelProto around the graph: opset, producer, metadata, I/O. */
static int fill_model(onnx_graph *g, const onnx_model_info *info, Onnx__ModelProto *m, Onnx__GraphProto *gr) {
    Onnx__OperatorSetIdProto *ops = og_alloc(g, sizeof *ops), **opsv = og_alloc(g, sizeof *opsv);
    Onnx__ValueInfoProto **in = og_alloc(g, sizeof *in), **out = og_alloc(g, sizeof *out);
    if (!ops || !opsv || !in || !out) return 0;
    onnx__operator_set_id_proto__init(ops);
    ops->domain = og_strdup(g, ""); ops->has_version = 1; ops->version = ONNX_OPSET;
    opsv[0] = ops;
    in[0] = value_info(g, info->input, info->in_dims, 4);
    out[0] = value_info(g, info->output, info->out_dims, 2);
    onnx__graph_proto__init(gr);
    gr->name = og_strdup(g, info->graph_name); gr->doc_string = og_strdup(g, info->doc);
    gr->n_node = g->nnodes; gr->node = g->nodes;
    gr->n_initializer = g->ninits; gr->initializer = g->inits;
    gr->n_input = 1; gr->input = in; gr->n_output = 1; gr->output = out;
    onnx__model_proto__init(m);
    m->has_ir_version = 1; m->ir_version = ONNX_IR_VERSION;
    m->n_opset_import = 1; m->opset_import = opsv;
    m->producer_name = og_strdup(g, "ferc"); m->producer_version = og_strdup(g, FERC_VERSION_STRING);
    m->doc_string = og_strdup(g, info->doc);
    m->graph = gr;
    m->n_metadata_props = (size_t)info->nmeta; m->metadata_props = metadata(g, info);
    return !g->oom && in[0] && out[0];
}

ferc_status og_finish(onnx_graph *g, const onnx_model_info *info, const char *path, ferc_error *err) {
    Onnx__ModelProto m;
    Onnx__GraphProto gr;
    ferc_status st = FERC_OK;
    if (!fill_model(g, info, &m, &gr)) st = ferc_fail(err, FERC_ERR_NOMEM, "out of memory while building the ONNX graph");
    size_t n = st == FERC_OK ? onnx__model_proto__get_packed_size(&m) : 0;
    uint8_t *buf = st == FERC_OK ? malloc(n ? n : 1) : NULL;
    if (st == FERC_OK && !buf) st = ferc_fail(err, FERC_ERR_NOMEM, "out of memory for a %zu-byte ONNX file", n);
    if (st == FERC_OK && onnx__model_proto__pack(&m, buf) != n)
        st = ferc_fail(err, FERC_ERR_INTERNAL, "protobuf-c packed a different size than it measured");
    if (st == FERC_OK) st = write_atomic(path, buf, n, err);
    free(buf);
    og_free(g);
    return st;
}
