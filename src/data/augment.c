/* augment.c — on-the-fly data augmentation (Keras ImageDataGenerator-style
 * zoom, shift, rotation, flip, crop, brightness, contrast with nearest /
 * constant / reflect / wrap fill, then torchvision-style random erasing),
 * its options and config file, and the class helpers (balanced class
 * weights, a class-balanced sampler, the stratified validation split that
 * training and the ensemble fit share).
 *
 * Geometry: every output pixel (r, c) is mapped to a source position by ONE
 * affine map composed from the crop-or-resize step, the flip, the zoom and
 * shift, and the rotation (inverse mapping, as scipy.ndimage.affine_transform
 * does for Keras), and the source is sampled there once. Coordinates are
 * (row, col) with pixel centres at integers; the centre of an h x w image is
 * ((h-1)/2, (w-1)/2), Keras' transform_matrix_offset_center. */
#include "data/data.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

void ferc_augment_opts_default(ferc_augment_opts *o) {
    memset(o, 0, sizeof *o);
    o->enabled = 0;
    o->zoom_lo = o->zoom_hi = 1.0f;
    o->brightness_lo = o->brightness_hi = 1.0f;
    o->contrast_lo = o->contrast_hi = 1.0f;
    o->fill = FERC_FILL_NEAREST;
    o->cval = 0.0f;
    o->interp = FERC_INTERP_BILINEAR;
    o->erase = 0.0f;
    o->erase_scale_lo = 0.02f; o->erase_scale_hi = 0.33f;   /* torchvision RandomErasing */
    o->erase_ratio_lo = 0.3f; o->erase_ratio_hi = 3.3f;
    o->erase_random = 1;                                     /* as Zhong et al. */
}

static const char *const fill_names[] = {"nearest", "constant", "reflect", "wrap"};
static const char *const interp_names[] = {"bilinear", "nearest"};

/* Strict number: optional surrounding blanks, nothing else. */
static int parse_num(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno) return 0;
    while (isspace((unsigned char)*end)) end++;
    if (*end || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

/* "a" (one number, *two = 0) or "a,b" / "a:b", optionally in [ ] or ( ). */
static int parse_pair(const char *s, double *a, double *b, int *two) {
    char buf[256];
    size_t n = strlen(s);
    if (n >= sizeof buf) return 0;
    memcpy(buf, s, n + 1);
    char *p = buf;
    while (isspace((unsigned char)*p)) p++;
    char *e = p + strlen(p);
    while (e > p && isspace((unsigned char)e[-1])) *--e = 0;
    if (e > p && (*p == '[' || *p == '(')) {
        if (e[-1] != (*p == '[' ? ']' : ')')) return 0;
        e[-1] = 0;
        p++;
    }
    char *sep = strpbrk(p, ",:");
    if (!sep) { *two = 0; return parse_num(p, a); }
    *sep = 0;
    *two = 1;
    return parse_num(p, a) && parse_num(sep + 1, b);
}

static int parse_bool(const char *s, int *out) {
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) { *out = 1; return 1; }
        if (strcasecmp(s, no[i]) == 0) { *out = 0; return 1; }
    }
    return 0;
}

/* A factor range: "r" -> [1-r, 1+r] with 0 <= r < 1, or "lo,hi" with
 * 0 < lo <= hi (min_lo is the smallest allowed lo). */
static ferc_status parse_factor_range(const char *key, const char *val, float min_lo,
                                      float *lo, float *hi, ferc_error *err) {
    double a = 0, b = 0;
    int two = 0;
    if (!parse_pair(val, &a, &b, &two))
        return ferc_fail(err, FERC_ERR_ARG, "%s: '%s' is not a number or a lo,hi pair", key, val);
    if (!two) {
        if (!(a >= 0 && a < 1))
            return ferc_fail(err, FERC_ERR_ARG,
                             "%s: a single value r means the range [1-r, 1+r] and must be in "
                             "[0, 1); got '%s' (give lo,hi for other ranges)", key, val);
        *lo = (float)(1 - a);
        *hi = (float)(1 + a);
        return FERC_OK;
    }
    if (!(a >= min_lo && a <= b && b <= 100))
        return ferc_fail(err, FERC_ERR_ARG, "%s: range '%s' needs %g <= lo <= hi <= 100", key, val,
                         (double)min_lo);
    *lo = (float)a;
    *hi = (float)b;
    return FERC_OK;
}

static ferc_status parse_fraction(const char *key, const char *val, float *out, ferc_error *err) {
    double v;
    if (!parse_num(val, &v) || !(v >= 0 && v < 1))
        return ferc_fail(err, FERC_ERR_ARG, "%s: '%s' is not a fraction in [0, 1)", key, val);
    *out = (float)v;
    return FERC_OK;
}

static int key_is(const char *key, const char *a, const char *b, const char *c) {
    return strcasecmp(key, a) == 0 || (b && strcasecmp(key, b) == 0) ||
           (c && strcasecmp(key, c) == 0);
}

static ferc_status apply_preset(ferc_augment_opts *o, const char *val, ferc_error *err) {
    if (strcasecmp(val, "none") == 0 || strcasecmp(val, "off") == 0) {
        ferc_augment_opts_default(o);
    } else if (strcasecmp(val, "seed2") == 0) {
        /* The reference recipe: random zoom up to 30%, 'nearest' fill. */
        ferc_augment_opts_default(o);
        o->enabled = 1;
        o->zoom_lo = 0.7f; o->zoom_hi = 1.3f;
        o->fill = FERC_FILL_NEAREST;
    } else if (strcasecmp(val, "fer") == 0) {
        ferc_augment_opts_default(o);
        o->enabled = 1;
        o->zoom_lo = 0.8f; o->zoom_hi = 1.2f;
        o->shift_x = o->shift_y = 0.1f;
        o->rotation = 10.0f;
        o->flip = 1;
    } else {
        return ferc_fail(err, FERC_ERR_ARG, "preset: unknown preset '%s' (none, seed2, fer)", val);
    }
    return FERC_OK;
}

static ferc_status bad_bool(const char *key, const char *val, ferc_error *err) {
    return ferc_fail(err, FERC_ERR_ARG, "%s: '%s' is not a boolean (1/0, true/false, yes/no, on/off)", key, val);
}

static ferc_status set_bool(const char *key, const char *val, int *dst, ferc_error *err) {
    int b;
    if (!parse_bool(val, &b)) return bad_bool(key, val, err);
    *dst = b;
    return FERC_OK;
}

/* What each key does to the options t being built. Setting a transform
 * also turns augmentation on. */
static ferc_status set_enabled(ferc_augment_opts *t, const char *key, const char *val, ferc_error *err) {
    return set_bool(key, val, &t->enabled, err);
}

static ferc_status set_preset(ferc_augment_opts *t, const char *key, const char *val, ferc_error *err) {
    (void)key;
    return apply_preset(t, val, err);
}

static ferc_status set_zoom(ferc_augment_opts *t, const char *key, const char *val, ferc_error *err) {
    t->enabled = 1;
    return parse_factor_range(key, val, 0.01f, &t->zoom_lo, &t->zoom_hi, err);
}

static ferc_status set_zoom_same(ferc_augment_opts *t, const char *key, const char *val, ferc_error *err) {
    return set_bool(key, val, &t->zoom_same, err);
}

static ferc_status set_shift(ferc_augment_opts *t, const char *key, const char *val, ferc_error *err) {
    double a, c;
    int two;
    if (!parse_pair(val, &a, &c, &two) || !(a >= 0 && a < 1) || (two && !(c >= 0 && c < 1)))
        return ferc_fail(err, FERC_ERR_ARG,
                         "%s: '%s' is not a fraction in [0, 1) or a pair fx,fy of them", key, val);
    t->shift_x = (float)a;
    t->shift_y = (float)(two ? c : a);
    t->enabled = 1;
    return FERC_OK;
}

static ferc_status set_shift_x(ferc_augment_opts *t, const char *key, const char *val, ferc_error *err) {
    t->enabled = 1;
    return parse_fraction(key, val, &t->shift_x, err);
}

static ferc_status set_shift_y(ferc_augment_opts *t, const char *key, const char *val, ferc_error *err) {
    t->enabled = 1;
    return parse_fraction(key, val, &t->shift_y, err);
}

static ferc_status set_rotation(ferc_augment_opts *t, const char *key, const char *val, ferc_error *err) {
    double v;
    if (!parse_num(val, &v) || !(v >= 0 && v <= 180))
        return ferc_fail(err, FERC_ERR_ARG, "%s: '%s' is not a number of degrees in [0, 180]", key, val);
    t->rotation = (float)v;
    t->enabled = 1;
    return FERC_OK;
}

static ferc_status set_flip(ferc_augment_opts *t, const char *key, const char *val, ferc_error *err) {
    t->enabled = 1;
    return set_bool(key, val, &t->flip, err);
}

static ferc_status set_crop(ferc_augment_opts *t, const char *key, const char *val, ferc_error *err) {
    t->enabled = 1;
    return set_bool(key, val, &t->crop, err);
}

static ferc_status set_brightness(ferc_augment_opts *t, const char *key, const char *val, ferc_error *err) {
    t->enabled = 1;
    return parse_factor_range(key, val, 0.0f, &t->brightness_lo, &t->brightness_hi, err);
}

static ferc_status set_contrast(ferc_augment_opts *t, const char *key, const char *val, ferc_error *err) {
    t->enabled = 1;
    return parse_factor_range(key, val, 0.0f, &t->contrast_lo, &t->contrast_hi, err);
}

static ferc_status set_fill(ferc_augment_opts *t, const char *key, const char *val, ferc_error *err) {
    int m = -1;
    for (int i = 0; i < 4; i++)
        if (strcasecmp(val, fill_names[i]) == 0) m = i;
    if (m < 0)
        return ferc_fail(err, FERC_ERR_ARG, "%s: unknown fill mode '%s' (nearest, constant, reflect, wrap)",
                         key, val);
    t->fill = (ferc_fill_mode)m;
    return FERC_OK;
}

static ferc_status set_cval(ferc_augment_opts *t, const char *key, const char *val, ferc_error *err) {
    double v;
    if (!parse_num(val, &v) || !(v >= 0 && v <= 1))
        return ferc_fail(err, FERC_ERR_ARG, "%s: '%s' is not a pixel value in [0, 1]", key, val);
    t->cval = (float)v;
    return FERC_OK;
}

static ferc_status set_interp(ferc_augment_opts *t, const char *key, const char *val, ferc_error *err) {
    if (strcasecmp(val, "bilinear") == 0 || strcasecmp(val, "linear") == 0) t->interp = FERC_INTERP_BILINEAR;
    else if (strcasecmp(val, "nearest") == 0) t->interp = FERC_INTERP_NEAREST;
    else return ferc_fail(err, FERC_ERR_ARG, "%s: unknown interpolation '%s' (bilinear, nearest)", key, val);
    return FERC_OK;
}

/* Random erasing: the probability (a value > 0 turns augmentation on), the
 * area and aspect ranges, the fill. */
static ferc_status set_erase(ferc_augment_opts *t, const char *key, const char *val, ferc_error *err) {
    double v;
    if (!parse_num(val, &v) || !(v >= 0 && v <= 1))
        return ferc_fail(err, FERC_ERR_ARG, "%s: '%s' is not a probability in [0, 1]", key, val);
    t->erase = (float)v;
    if (v > 0) t->enabled = 1;
    return FERC_OK;
}

/* "lo,hi" with min < lo <= hi <= max. */
static ferc_status parse_range(const char *key, const char *val, double min, double max, float *lo, float *hi,
                               ferc_error *err) {
    double a, b;
    int two;
    if (!parse_pair(val, &a, &b, &two) || !two || !(a > min && a <= b && b <= max))
        return ferc_fail(err, FERC_ERR_ARG, "%s: '%s' is not a range lo,hi with %g < lo <= hi <= %g", key, val, min, max);
    *lo = (float)a;
    *hi = (float)b;
    return FERC_OK;
}

static ferc_status set_erase_scale(ferc_augment_opts *t, const char *key, const char *val, ferc_error *err) {
    return parse_range(key, val, 0, 1, &t->erase_scale_lo, &t->erase_scale_hi, err);
}

static ferc_status set_erase_ratio(ferc_augment_opts *t, const char *key, const char *val, ferc_error *err) {
    return parse_range(key, val, 0, 100, &t->erase_ratio_lo, &t->erase_ratio_hi, err);
}

static ferc_status set_erase_value(ferc_augment_opts *t, const char *key, const char *val, ferc_error *err) {
    if (strcasecmp(val, "random") == 0) t->erase_random = 1;
    else if (strcmp(val, "0") == 0 || strcasecmp(val, "zero") == 0) t->erase_random = 0;
    else return ferc_fail(err, FERC_ERR_ARG, "%s: '%s' is not random or 0", key, val);
    return FERC_OK;
}

/* The keys (case-insensitive), with their aliases (Keras' names among them);
 * boolean keys may be given alone ("flip" means flip=1). */
typedef struct {
    const char *names[3];
    int boolean;
    ferc_status (*set)(ferc_augment_opts *t, const char *key, const char *val, ferc_error *err);
} opt_key;

static const opt_key opt_keys[] = {
    {.names = {"enabled", "augment"}, .boolean = 1, .set = set_enabled},
    {.names = {"preset"}, .set = set_preset},
    {.names = {"zoom", "zoom_range"}, .set = set_zoom},
    {.names = {"zoom_same", "zoom_iso"}, .boolean = 1, .set = set_zoom_same},
    {.names = {"shift"}, .set = set_shift},
    {.names = {"shift_x", "width_shift", "width_shift_range"}, .set = set_shift_x},
    {.names = {"shift_y", "height_shift", "height_shift_range"}, .set = set_shift_y},
    {.names = {"rotation", "rotation_range", "rotate"}, .set = set_rotation},
    {.names = {"flip", "horizontal_flip"}, .boolean = 1, .set = set_flip},
    {.names = {"crop"}, .boolean = 1, .set = set_crop},
    {.names = {"brightness", "brightness_range"}, .set = set_brightness},
    {.names = {"contrast", "contrast_range"}, .set = set_contrast},
    {.names = {"fill", "fill_mode"}, .set = set_fill},
    {.names = {"cval", "fill_value"}, .set = set_cval},
    {.names = {"interp", "interpolation"}, .set = set_interp},
    {.names = {"erase", "random_erasing", "erasing"}, .set = set_erase},
    {.names = {"erase_scale"}, .set = set_erase_scale},
    {.names = {"erase_ratio"}, .set = set_erase_ratio},
    {.names = {"erase_value"}, .set = set_erase_value},
};

static const opt_key *find_key(const char *key) {
    for (size_t i = 0; i < sizeof opt_keys / sizeof opt_keys[0]; i++)
        if (key_is(key, opt_keys[i].names[0], opt_keys[i].names[1], opt_keys[i].names[2])) return &opt_keys[i];
    return NULL;
}

/* "key = value" (or a lone "key") into key[64] and val[256], both trimmed;
 * *has_eq says whether there was an '='. */
static ferc_status split_setting(const char *setting, char key[64], char val[256], int *has_eq, ferc_error *err) {
    const char *eq = strchr(setting, '=');
    *has_eq = eq != NULL;
    size_t kl = eq ? (size_t)(eq - setting) : strlen(setting);
    while (kl > 0 && isspace((unsigned char)setting[kl - 1])) kl--;
    const char *ks = setting;
    while (kl > 0 && isspace((unsigned char)*ks)) { ks++; kl--; }
    if (kl == 0) return ferc_fail(err, FERC_ERR_ARG, "augment option '%s': missing key", setting);
    if (kl >= 64) return ferc_fail(err, FERC_ERR_ARG, "augment option '%.40s...': key too long", setting);
    memcpy(key, ks, kl);
    key[kl] = 0;
    const char *vs = eq ? eq + 1 : "";
    while (isspace((unsigned char)*vs)) vs++;
    size_t vl = strlen(vs);
    while (vl > 0 && isspace((unsigned char)vs[vl - 1])) vl--;
    if (vl >= 256) return ferc_fail(err, FERC_ERR_ARG, "%s: value too long", key);
    memcpy(val, vs, vl);
    val[vl] = 0;
    return FERC_OK;
}

ferc_status ferc_augment_opts_parse(ferc_augment_opts *o, const char *setting, ferc_error *err) {
    if (!o || !setting) return ferc_fail(err, FERC_ERR_ARG, "augment option: missing setting");
    char key[64], val[256];
    int eq;
    ferc_status st = split_setting(setting, key, val, &eq, err);
    if (st != FERC_OK) return st;
    const opt_key *k = find_key(key);
    if (!eq && !(k && k->boolean))
        return ferc_fail(err, FERC_ERR_ARG, "augment option '%s': expected key=value", setting);
    if (!eq) strcpy(val, "1");
    if (!val[0]) return ferc_fail(err, FERC_ERR_ARG, "%s: missing value", key);
    if (!k)
        return ferc_fail(err, FERC_ERR_ARG,
                         "unknown augment option '%s' (keys: enabled preset zoom zoom_same shift shift_x "
                         "shift_y rotation flip crop brightness contrast fill cval interp erase erase_scale "
                         "erase_ratio erase_value)", key);
    ferc_augment_opts t = *o;  /* commit only on success */
    st = k->set(&t, key, val, err);
    if (st != FERC_OK) return st;
    *o = t;
    return FERC_OK;
}

/* A config is a few lines: a folder (which reads as a huge "file") or
 * anything over this is refused before it is read. */
#define MAX_CONFIG_BYTES (1 << 20)

ferc_status ferc_augment_load_config(const char *path, ferc_augment_opts *o, ferc_error *err) {
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return ferc_fail(err, FERC_ERR_IO, "%s: is a directory, not an augmentation config", path);
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > MAX_CONFIG_BYTES)
        return ferc_fail(err, FERC_ERR_LIMIT, "%s: %lld bytes, over the %d bytes an augmentation config may have",
                         path, (long long)sb.st_size, MAX_CONFIG_BYTES);
    unsigned char *data;
    size_t len;
    ferc_status st = ferc_read_file(path, &data, &len, err);
    if (st != FERC_OK) return st;
    ferc_augment_opts t = *o;
    char *p = (char *)data, *end = p + len;
    int line = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        line++;
        if (memchr(p, 0, (size_t)(le - p))) {
            free(data);
            return ferc_fail(err, FERC_ERR_PARSE, "%s:%d: NUL byte (not a text file?)", path, line);
        }
        *le = 0;
        char *hash = strchr(p, '#');
        if (hash) *hash = 0;
        char *s = p;
        while (isspace((unsigned char)*s)) s++;
        if (*s) {
            ferc_error e;
            if (ferc_augment_opts_parse(&t, s, &e) != FERC_OK) {
                free(data);
                return ferc_fail(err, FERC_ERR_PARSE, "%s:%d: %s", path, line, e.msg);
            }
        }
        p = le + 1;
    }
    free(data);
    *o = t;
    return FERC_OK;
}

static int range_on(float lo, float hi) { return lo != 1.0f || hi != 1.0f; }

int ferc_augment_describe(const ferc_augment_opts *o, char *buf, size_t cap) {
    char tmp[1024];
    size_t n = 0;
#define ADD(...) do { int k_ = snprintf(tmp + n, sizeof tmp - n, __VA_ARGS__); \
                      if (k_ > 0) n = (n + (size_t)k_ < sizeof tmp) ? n + (size_t)k_ : sizeof tmp - 1; } while (0)
    if (!o->enabled) {
        ADD("off (evaluation view: %s)", o->crop ? "centre crop" : "resize");
    } else {
        int any = 0;
        if (range_on(o->zoom_lo, o->zoom_hi)) {
            ADD("zoom %.2f..%.2f %s", (double)o->zoom_lo, (double)o->zoom_hi,
                o->zoom_same ? "(same on both axes)" : "(each axis)");
            any = 1;
        }
        if (o->shift_x > 0 || o->shift_y > 0) {
            ADD("%sshift +-%.0f%% x +-%.0f%%", any ? ", " : "", 100.0 * o->shift_x, 100.0 * o->shift_y);
            any = 1;
        }
        if (o->rotation > 0) { ADD("%srotation +-%g deg", any ? ", " : "", (double)o->rotation); any = 1; }
        if (o->flip) { ADD("%sh-flip p=0.5", any ? ", " : ""); any = 1; }
        if (o->crop) { ADD("%srandom crop (centre crop at eval)", any ? ", " : ""); any = 1; }
        if (range_on(o->brightness_lo, o->brightness_hi)) {
            ADD("%sbrightness x%.2f..%.2f", any ? ", " : "", (double)o->brightness_lo, (double)o->brightness_hi);
            any = 1;
        }
        if (range_on(o->contrast_lo, o->contrast_hi)) {
            ADD("%scontrast x%.2f..%.2f", any ? ", " : "", (double)o->contrast_lo, (double)o->contrast_hi);
            any = 1;
        }
        if (o->erase > 0) {
            ADD("%srandom erasing p=%.2f area %.2f..%.2f aspect %.2f..%.2f %s", any ? ", " : "", (double)o->erase,
                (double)o->erase_scale_lo, (double)o->erase_scale_hi, (double)o->erase_ratio_lo,
                (double)o->erase_ratio_hi, o->erase_random ? "random values" : "zeros");
            any = 1;
        }
        if (!any) ADD("on but no transform set");
        ADD(", fill %s", (unsigned)o->fill < 4 ? fill_names[o->fill] : "?");
        if (o->fill == FERC_FILL_CONSTANT) ADD(" (cval %g)", (double)o->cval);
        ADD(", %s", (unsigned)o->interp < 2 ? interp_names[o->interp] : "?");
        if (!o->crop) ADD(", resize to the input size");
    }
#undef ADD
    return snprintf(buf, cap, "%s", tmp);
}

ferc_status ferc_augment_check(const ferc_augment_opts *o, int sh, int sw, int dh, int dw, ferc_error *err) {
    if (sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0 || sh > 65536 || sw > 65536 || dh > 65536 || dw > 65536)
        return ferc_fail(err, FERC_ERR_ARG, "augment: bad image sizes %dx%d -> %dx%d", sh, sw, dh, dw);
    if (!o) return FERC_OK;
    if (o->crop && (dh > sh || dw > sw))
        return ferc_fail(err, FERC_ERR_ARG,
                         "augment: crop needs an output (%dx%d) no larger than the input (%dx%d); "
                         "use resize (crop=0) instead", dh, dw, sh, sw);
    if (!(o->zoom_lo > 0 && o->zoom_lo <= o->zoom_hi && o->zoom_hi <= 100))
        return ferc_fail(err, FERC_ERR_ARG, "augment: bad zoom range %g..%g", (double)o->zoom_lo, (double)o->zoom_hi);
    if (!(o->shift_x >= 0 && o->shift_x < 1 && o->shift_y >= 0 && o->shift_y < 1))
        return ferc_fail(err, FERC_ERR_ARG, "augment: shift fractions must be in [0, 1)");
    if (!(o->rotation >= 0 && o->rotation <= 180))
        return ferc_fail(err, FERC_ERR_ARG, "augment: rotation must be in [0, 180] degrees");
    if (!(o->brightness_lo >= 0 && o->brightness_lo <= o->brightness_hi) ||
        !(o->contrast_lo >= 0 && o->contrast_lo <= o->contrast_hi))
        return ferc_fail(err, FERC_ERR_ARG, "augment: bad brightness or contrast range");
    if ((unsigned)o->fill > FERC_FILL_WRAP || (unsigned)o->interp > FERC_INTERP_NEAREST)
        return ferc_fail(err, FERC_ERR_ARG, "augment: bad fill mode or interpolation");
    if (!(o->cval >= 0 && o->cval <= 1)) return ferc_fail(err, FERC_ERR_ARG, "augment: cval must be in [0, 1]");
    if (!(o->erase >= 0 && o->erase <= 1)) return ferc_fail(err, FERC_ERR_ARG, "augment: erase must be a probability in [0, 1]");
    if (o->erase > 0 && !(o->erase_scale_lo > 0 && o->erase_scale_lo <= o->erase_scale_hi && o->erase_scale_hi <= 1 &&
                          o->erase_ratio_lo > 0 && o->erase_ratio_lo <= o->erase_ratio_hi && o->erase_ratio_hi <= 100))
        return ferc_fail(err, FERC_ERR_ARG, "augment: bad erase_scale %g..%g (in (0, 1]) or erase_ratio %g..%g",
                         (double)o->erase_scale_lo, (double)o->erase_scale_hi, (double)o->erase_ratio_lo,
                         (double)o->erase_ratio_hi);
    return FERC_OK;
}

/* ------------------------------------------------------------------------ */
/* Parameters                                                                */
/* ------------------------------------------------------------------------ */

void ferc_augment_params_identity(ferc_augment_params *p) {
    memset(p, 0, sizeof *p);
    p->zx = p->zy = 1.0f;
    p->brightness = p->contrast = 1.0f;
}

static float uniform_in(ferc_rng *rng, float lo, float hi) {
    return lo + (hi - lo) * ferc_rng_uniform(rng);
}

/* torchvision RandomErasing.get_params on the dh x dw output: u < p, then
 * up to 10 tries of an area and a log-uniform aspect h/w until the
 * rectangle fits strictly inside; its corner uniform over the places it
 * fits. Draws nothing when o->erase is 0. */
static void draw_erase(const ferc_augment_opts *o, ferc_rng *rng, int dh, int dw, ferc_augment_params *p) {
    if (!(o->erase > 0) || !(ferc_rng_uniform(rng) < o->erase)) return;
    const double area = (double)dh * dw, lr0 = log(o->erase_ratio_lo), lr1 = log(o->erase_ratio_hi);
    for (int attempt = 0; attempt < 10; attempt++) {
        const double a = area * uniform_in(rng, o->erase_scale_lo, o->erase_scale_hi);
        const double ratio = exp(lr0 + (lr1 - lr0) * ferc_rng_uniform(rng));
        const int h = (int)lround(sqrt(a * ratio)), w = (int)lround(sqrt(a / ratio));
        if (!(h < dh && w < dw)) continue;
        p->erase_h = h; p->erase_w = w;
        p->erase_y = (int)ferc_rng_below(rng, (uint32_t)(dh - h + 1));
        p->erase_x = (int)ferc_rng_below(rng, (uint32_t)(dw - w + 1));
        p->erase_random = o->erase_random;
        if (o->erase_random) p->erase_seed = ferc_rng_next(rng);
        return;
    }
}

ferc_status ferc_augment_draw(const ferc_augment_opts *o, ferc_rng *rng, int sh, int sw, int dh, int dw,
                              ferc_augment_params *p) {
    ferc_augment_params_identity(p);
    if (!o || ferc_augment_check(o, sh, sw, dh, dw, NULL) != FERC_OK) return FERC_ERR_ARG;
    if (!o->enabled) {
        if (o->crop) { p->crop = 1; p->crop_x = (sw - dw) / 2; p->crop_y = (sh - dh) / 2; }
        return FERC_OK;
    }
    /* Fixed draw order: zoom, shift, rotation, flip, crop, brightness, contrast, erasing. */
    if (range_on(o->zoom_lo, o->zoom_hi)) {
        p->zx = uniform_in(rng, o->zoom_lo, o->zoom_hi);
        p->zy = o->zoom_same ? p->zx : uniform_in(rng, o->zoom_lo, o->zoom_hi);
    }
    if (o->shift_x > 0) p->dx = uniform_in(rng, -o->shift_x, o->shift_x) * (float)sw;
    if (o->shift_y > 0) p->dy = uniform_in(rng, -o->shift_y, o->shift_y) * (float)sh;
    if (o->rotation > 0) p->angle = uniform_in(rng, -o->rotation, o->rotation);
    if (o->flip) p->flip = ferc_rng_uniform(rng) < 0.5f;
    if (o->crop) {
        p->crop = 1;
        p->crop_x = (int)ferc_rng_below(rng, (uint32_t)(sw - dw + 1));
        p->crop_y = (int)ferc_rng_below(rng, (uint32_t)(sh - dh + 1));
    }
    if (range_on(o->brightness_lo, o->brightness_hi))
        p->brightness = uniform_in(rng, o->brightness_lo, o->brightness_hi);
    if (range_on(o->contrast_lo, o->contrast_hi))
        p->contrast = uniform_in(rng, o->contrast_lo, o->contrast_hi);
    draw_erase(o, rng, dh, dw, p);
    return FERC_OK;
}

/* ------------------------------------------------------------------------ */
/* Warping                                                                   */
/* ------------------------------------------------------------------------ */

/* src = A (r, c) + b for output pixel (r, c): a[0..2] gives the source row,
 * a[3..5] the source column (a[0] r + a[1] c + a[2]). */
static void compose(const ferc_augment_params *p, int sh, int sw, int dh, int dw, double a[6]) {
    /* 1. output -> full-size augmented frame q: crop offset, or resize. */
    double m[6];
    if (p->crop) {
        m[0] = 1; m[1] = 0; m[2] = p->crop_y;
        m[3] = 0; m[4] = 1; m[5] = p->crop_x;
    } else {
        double sy = (double)sh / dh, sx = (double)sw / dw;
        m[0] = sy; m[1] = 0; m[2] = 0.5 * sy - 0.5;
        m[3] = 0; m[4] = sx; m[5] = 0.5 * sx - 0.5;
    }
    /* 2. flip: q_c <- (sw - 1) - q_c. */
    if (p->flip) { m[3] = -m[3]; m[4] = -m[4]; m[5] = (sw - 1) - m[5]; }
    /* 3. about the centre o: v = (zy (q_r - o_r) - dy, zx (q_c - o_c) - dx). */
    double orow = 0.5 * (sh - 1), ocol = 0.5 * (sw - 1);
    double v[6] = {p->zy * m[0], p->zy * m[1], p->zy * (m[2] - orow) - p->dy,
                   p->zx * m[3], p->zx * m[4], p->zx * (m[5] - ocol) - p->dx};
    /* 4. inverse rotation (content turned counter-clockwise by angle):
     *    src_r = o_r + cos v_r + sin v_c,  src_c = o_c - sin v_r + cos v_c. */
    double t = (double)p->angle * (M_PI / 180.0);
    double cs = cos(t), sn = sin(t);
    /* Exact values for multiples of 90 degrees. */
    if (fmod(fabs((double)p->angle), 90.0) == 0.0) { cs = round(cs); sn = round(sn); }
    for (int j = 0; j < 3; j++) {
        a[j] = cs * v[j] + sn * v[3 + j];
        a[3 + j] = -sn * v[j] + cs * v[3 + j];
    }
    a[2] += orow;
    a[5] += ocol;
}

/* Index of pixel i of a line of n under a fill mode (not constant). */
static inline int ext_index(int i, int n, ferc_fill_mode mode) {
    if (i >= 0 && i < n) return i;
    switch (mode) {
    case FERC_FILL_REFLECT: {  /* d c b a | a b c d | d c b a */
        int p = 2 * n, k = i % p;
        if (k < 0) k += p;
        return k < n ? k : p - 1 - k;
    }
    case FERC_FILL_WRAP: {
        int k = i % n;
        return k < 0 ? k + n : k;
    }
    default:
        return i < 0 ? 0 : n - 1;
    }
}

/* Tolerance on "inside the image" for constant fill: float rounding must not
 * turn an edge pixel into cval. */
#define EDGE_EPS 1e-4f

/* The warp's helpers are forced inline so that each of warp_f32 and warp_u8
 * gets its own copy with the source type (u8) a constant. */
#define WARP_INLINE static inline __attribute__((always_inline))

/* The affine map A rounded to float: output (r, c) -> source row
 * a0 r + a1 c + a2, column a3 r + a4 c + a5. */
typedef struct { float a0, a1, a2, a3, a4, a5; } fmap;

/* A source plane: floats, or raw 8-bit pixels (u8) read as pixel / 255. */
typedef struct {
    const void *p;
    int u8;
    int h, w;
    float ymax, xmax;  /* h - 1, w - 1 */
} source;

WARP_INLINE float load(source s, size_t i) {
    return s.u8 ? (float)((const uint8_t *)s.p)[i] * (1.0f / 255.0f) : ((const float *)s.p)[i];
}

/* Bilinear blend of four taps, in the one order of operations every path
 * uses. */
WARP_INLINE float lerp4(float p00, float p01, float p10, float p11, float fy, float fx) {
    const float top = p00 + fx * (p01 - p00), bot = p10 + fx * (p11 - p10);
    return top + fy * (bot - top);
}

/* Past the edge pixels' centres (beyond the tolerance): cval with constant
 * fill. */
WARP_INLINE int outside(float y, float x, source s) {
    return y < -EDGE_EPS || y > s.ymax + EDGE_EPS || x < -EDGE_EPS || x > s.xmax + EDGE_EPS;
}

/* The map is affine: when the four output corners land strictly inside the
 * source (with room for the +1 neighbour), every pixel does, and the loop
 * needs no border test (the common case for mild zooms). */
WARP_INLINE int map_inside(fmap m, int dh, int dw, source s) {
    int inside = 1;
    for (int k = 0; k < 4; k++) {
        float r = (k & 1) ? (float)(dh - 1) : 0.0f, c = (k & 2) ? (float)(dw - 1) : 0.0f;
        float y = m.a0 * r + m.a1 * c + m.a2, x = m.a3 * r + m.a4 * c + m.a5;
        inside &= y >= 0.0f && x >= 0.0f && y < s.ymax - 1e-3f && x < s.xmax - 1e-3f;
    }
    return inside;
}

/* Bilinear warp of a map that stays inside the source (map_inside). */
WARP_INLINE void warp_inside(fmap m, source s, float *dst, int dh, int dw) {
    for (int r = 0; r < dh; r++) {
        const float yr = m.a0 * (float)r + m.a2, xr = m.a3 * (float)r + m.a5;
        float *out = dst + (size_t)r * dw;
        for (int c = 0; c < dw; c++) {
            const float y = yr + m.a1 * (float)c, x = xr + m.a4 * (float)c;
            const int y0 = (int)y, x0 = (int)x;  /* y, x >= 0: truncation is floor */
            const float fy = y - (float)y0, fx = x - (float)x0;
            const size_t i = (size_t)y0 * s.w + x0;
            out[c] = lerp4(load(s, i), load(s, i + 1), load(s, i + s.w), load(s, i + s.w + 1), fy, fx);
        }
    }
}

/* The source at (y, x), nearest pixel, under the fill mode. */
WARP_INLINE float sample_nearest(float y, float x, ferc_fill_mode mode, float cval, source s) {
    if (mode == FERC_FILL_CONSTANT && outside(y, x, s)) return cval;
    int yi = (int)floorf(y + 0.5f), xi = (int)floorf(x + 0.5f);
    yi = ext_index(yi, s.h, mode == FERC_FILL_CONSTANT ? FERC_FILL_NEAREST : mode);
    xi = ext_index(xi, s.w, mode == FERC_FILL_CONSTANT ? FERC_FILL_NEAREST : mode);
    return load(s, (size_t)yi * s.w + xi);
}

/* The source at (y, x), bilinear, under the fill mode. */
WARP_INLINE float sample_bilinear(float y, float x, ferc_fill_mode mode, float cval, source s) {
    const float yf = floorf(y), xf = floorf(x);
    const int y0 = (int)yf, x0 = (int)xf;
    const float fy = y - yf, fx = x - xf;
    if (y0 >= 0 && x0 >= 0 && y0 < s.h - 1 && x0 < s.w - 1) {
        const size_t i = (size_t)y0 * s.w + x0;
        return lerp4(load(s, i), load(s, i + 1), load(s, i + s.w), load(s, i + s.w + 1), fy, fx);
    }
    /* Near or past the border. */
    ferc_fill_mode m = mode;
    if (mode == FERC_FILL_CONSTANT) {
        if (outside(y, x, s)) return cval;
        m = FERC_FILL_NEAREST;  /* inside: only clamps the zero-weight neighbour */
    }
    const int ya = ext_index(y0, s.h, m), yb = ext_index(y0 + 1, s.h, m);
    const int xa = ext_index(x0, s.w, m), xb = ext_index(x0 + 1, s.w, m);
    return lerp4(load(s, (size_t)ya * s.w + xa), load(s, (size_t)ya * s.w + xb), load(s, (size_t)yb * s.w + xa),
                 load(s, (size_t)yb * s.w + xb), fy, fx);
}

/* Any map, any fill, either interpolation: every pixel tested. */
WARP_INLINE void warp_general(fmap m, ferc_fill_mode mode, float cval, ferc_interp interp, source s, float *dst,
                              int dh, int dw) {
    for (int r = 0; r < dh; r++) {
        const float yr = m.a0 * (float)r + m.a2, xr = m.a3 * (float)r + m.a5;
        float *out = dst + (size_t)r * dw;
        for (int c = 0; c < dw; c++) {
            const float y = yr + m.a1 * (float)c, x = xr + m.a4 * (float)c;
            out[c] = interp == FERC_INTERP_NEAREST ? sample_nearest(y, x, mode, cval, s)
                                                   : sample_bilinear(y, x, mode, cval, s);
        }
    }
}

/* The warp, specialised (through always_inline and a constant u8) for float
 * and for raw 8-bit sources. */
WARP_INLINE void warp(const double A[6], ferc_fill_mode mode, float cval, ferc_interp interp, const void *src, int u8,
                      int sh, int sw, float *dst, int dh, int dw) {
    const fmap m = {.a0 = (float)A[0], .a1 = (float)A[1], .a2 = (float)A[2],
                    .a3 = (float)A[3], .a4 = (float)A[4], .a5 = (float)A[5]};
    const source s = {.p = src, .u8 = u8, .h = sh, .w = sw, .ymax = (float)(sh - 1), .xmax = (float)(sw - 1)};
    if (interp == FERC_INTERP_BILINEAR && map_inside(m, dh, dw, s)) {
        warp_inside(m, s, dst, dh, dw);
        return;
    }
    warp_general(m, mode, cval, interp, s, dst, dh, dw);
}

static void warp_f32(const double A[6], ferc_fill_mode mode, float cval, ferc_interp interp, const float *src,
                     int sh, int sw, float *dst, int dh, int dw) {
    warp(A, mode, cval, interp, src, 0, sh, sw, dst, dh, dw);
}

static void warp_u8(const double A[6], ferc_fill_mode mode, float cval, ferc_interp interp, const uint8_t *src,
                    int sh, int sw, float *dst, int dh, int dw) {
    warp(A, mode, cval, interp, src, 1, sh, sw, dst, dh, dw);
}

/* Brightness, contrast (about the image mean, after brightness), clamp. */
static void photometric(const ferc_augment_params *p, float *dst, int n) {
    const float b = p->brightness, k = p->contrast;
    if (b != 1.0f)
        for (int i = 0; i < n; i++) dst[i] *= b;
    if (k != 1.0f) {
        double s = 0;
        for (int i = 0; i < n; i++) s += dst[i];
        const float mean = (float)(s / n);
        for (int i = 0; i < n; i++) dst[i] = (dst[i] - mean) * k + mean;
    }
    for (int i = 0; i < n; i++) dst[i] = dst[i] < 0.0f ? 0.0f : (dst[i] > 1.0f ? 1.0f : dst[i]);
}

/* The erased rectangle, last (after the clamp: random values are in [0,1)). */
static void erase_rect(const ferc_augment_params *p, float *dst, int dw) {
    ferc_rng fill;
    ferc_rng_seed(&fill, p->erase_seed);
    for (int r = p->erase_y; r < p->erase_y + p->erase_h; r++)
        for (int c = p->erase_x; c < p->erase_x + p->erase_w; c++)
            dst[(size_t)r * dw + c] = p->erase_random ? ferc_rng_uniform(&fill) : 0.0f;
}

static ferc_status apply_any(const ferc_augment_opts *o, const ferc_augment_params *p, const void *src, int u8,
                             int sh, int sw, float *dst, int dh, int dw) {
    if (!p || !src || !dst || sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0) return FERC_ERR_ARG;
    if (sh > 65536 || sw > 65536 || dh > 65536 || dw > 65536) return FERC_ERR_ARG;
    if (p->crop && (p->crop_x < 0 || p->crop_y < 0 || p->crop_x + dw > sw || p->crop_y + dh > sh))
        return FERC_ERR_ARG;
    if (p->erase_w < 0 || p->erase_h < 0 || p->erase_x < 0 || p->erase_y < 0 || p->erase_x > dw - p->erase_w ||
        p->erase_y > dh - p->erase_h)
        return FERC_ERR_ARG;
    if (!(isfinite(p->angle) && isfinite(p->brightness) && isfinite(p->contrast))) return FERC_ERR_ARG;
    ferc_fill_mode mode = o ? o->fill : FERC_FILL_NEAREST;
    float cval = o ? o->cval : 0.0f;
    ferc_interp interp = o ? o->interp : FERC_INTERP_BILINEAR;
    if ((unsigned)mode > FERC_FILL_WRAP || (unsigned)interp > FERC_INTERP_NEAREST) return FERC_ERR_ARG;
    double A[6];
    compose(p, sh, sw, dh, dw, A);
    /* The map is affine, so its extremes are at the output's corners: keep
     * every source coordinate well inside int range (and finite). */
    for (int k = 0; k < 4; k++) {
        double r = (k & 1) ? dh - 1 : 0, c = (k & 2) ? dw - 1 : 0;
        double y = A[0] * r + A[1] * c + A[2], x = A[3] * r + A[4] * c + A[5];
        if (!(fabs(y) < 1e8 && fabs(x) < 1e8)) return FERC_ERR_ARG;
    }
    if (u8 && (size_t)sh * sw <= 4096) {
        /* Small faces: one vectorisable pass to floats beats converting each
         * of the four taps of every output pixel. */
        float buf[4096];
        const uint8_t *s8 = src;
        for (size_t i = 0; i < (size_t)sh * sw; i++) buf[i] = (float)s8[i] * (1.0f / 255.0f);
        warp_f32(A, mode, cval, interp, buf, sh, sw, dst, dh, dw);
    } else if (u8) warp_u8(A, mode, cval, interp, src, sh, sw, dst, dh, dw);
    else warp_f32(A, mode, cval, interp, src, sh, sw, dst, dh, dw);
    photometric(p, dst, dh * dw);
    if (p->erase_w > 0 && p->erase_h > 0) erase_rect(p, dst, dw);
    return FERC_OK;
}

ferc_status ferc_augment_apply(const ferc_augment_opts *o, const ferc_augment_params *p, const float *src,
                               int sh, int sw, float *dst, int dh, int dw) {
    return apply_any(o, p, src, 0, sh, sw, dst, dh, dw);
}

static void center_params(const ferc_augment_opts *o, int sh, int sw, int dh, int dw, ferc_augment_params *p) {
    ferc_augment_params_identity(p);
    if (o && o->crop) { p->crop = 1; p->crop_x = (sw - dw) / 2; p->crop_y = (sh - dh) / 2; }
}

ferc_status ferc_augment_center(const ferc_augment_opts *o, const float *src, int sh, int sw, float *dst, int dh,
                                int dw) {
    if (ferc_augment_check(o, sh, sw, dh, dw, NULL) != FERC_OK) return FERC_ERR_ARG;
    ferc_augment_params p;
    center_params(o, sh, sw, dh, dw, &p);
    return apply_any(o, &p, src, 0, sh, sw, dst, dh, dw);
}

ferc_status ferc_augment_image(const ferc_augment_opts *o, ferc_rng *rng, const float *src, int sh, int sw,
                               float *dst, int dh, int dw) {
    if (!o || !o->enabled) return ferc_augment_center(o, src, sh, sw, dst, dh, dw);
    if (!rng) return FERC_ERR_ARG;
    ferc_augment_params p;
    ferc_status st = ferc_augment_draw(o, rng, sh, sw, dh, dw, &p);
    if (st != FERC_OK) return st;
    return apply_any(o, &p, src, 0, sh, sw, dst, dh, dw);
}

ferc_status ferc_augment_ten_crop(const float *src, int sh, int sw, float *dst, int dh, int dw) {
    if (sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0 || dh > sh || dw > sw) return FERC_ERR_ARG;
    const int ox[5] = {0, sw - dw, 0, sw - dw, (sw - dw) / 2};
    const int oy[5] = {0, 0, sh - dh, sh - dh, (sh - dh) / 2};
    for (int f = 0; f < 2; f++)
        for (int k = 0; k < 5; k++) {
            ferc_augment_params p;
            ferc_augment_params_identity(&p);
            p.crop = 1; p.crop_x = ox[k]; p.crop_y = oy[k]; p.flip = f;
            ferc_status st = apply_any(NULL, &p, src, 0, sh, sw, dst + (size_t)(5 * f + k) * dh * dw, dh, dw);
            if (st != FERC_OK) return st;
        }
    return FERC_OK;
}

ferc_status ferc_augment_batch(const ferc_augment_opts *o, ferc_rng *rng, const ferc_dataset *d, const int *idx,
                               int n, int train, float *dst, int dh, int dw) {
    if (!d || !idx || !dst || n < 0) return FERC_ERR_ARG;
    if (ferc_augment_check(o, d->h, d->w, dh, dw, NULL) != FERC_OK) return FERC_ERR_ARG;
    const int random = train && o && o->enabled;
    if (random && !rng) return FERC_ERR_ARG;
    const size_t plane = (size_t)d->h * d->w;
    for (int i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= d->n) return FERC_ERR_ARG;
        ferc_augment_params p;
        if (random) ferc_augment_draw(o, rng, d->h, d->w, dh, dw, &p);
        else center_params(o, d->h, d->w, dh, dw, &p);
        ferc_status st = apply_any(o, &p, d->pix + (size_t)idx[i] * plane, 1, d->h, d->w,
                                   dst + (size_t)i * dh * dw, dh, dw);
        if (st != FERC_OK) return st;
    }
    return FERC_OK;
}

/* ------------------------------------------------------------------------ */
/* Classes: imbalance, stratified split                                      */
/* ------------------------------------------------------------------------ */

int ferc_class_weights_balanced(const int counts[FERC_NUM_CLASSES], float w[FERC_NUM_CLASSES]) {
    double n = 0;
    int k = 0;
    for (int c = 0; c < FERC_NUM_CLASSES; c++)
        if (counts[c] > 0) { n += counts[c]; k++; }
    for (int c = 0; c < FERC_NUM_CLASSES; c++)
        w[c] = counts[c] > 0 ? (float)(n / ((double)k * counts[c])) : 0.0f;
    return k;
}

ferc_status ferc_balanced_sampler_init(ferc_balanced_sampler *s, const int *labels, int n, ferc_error *err) {
    memset(s, 0, sizeof *s);
    if (n <= 0 || !labels) return ferc_fail(err, FERC_ERR_ARG, "balanced sampler: no rows");
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= FERC_NUM_CLASSES)
            return ferc_fail(err, FERC_ERR_ARG, "balanced sampler: row %d has label %d (expected 0..6)", i,
                             labels[i]);
        s->count[labels[i]]++;
    }
    s->idx = malloc((size_t)n * sizeof *s->idx);
    if (!s->idx) return ferc_fail(err, FERC_ERR_NOMEM, "balanced sampler: out of memory (%d rows)", n);
    int off = 0, fill[FERC_NUM_CLASSES];
    for (int c = 0; c < FERC_NUM_CLASSES; c++) {
        s->start[c] = fill[c] = off;
        off += s->count[c];
        if (s->count[c] > 0) s->cls[s->nclass++] = c;
    }
    for (int i = 0; i < n; i++) s->idx[fill[labels[i]]++] = i;
    s->n = n;
    return FERC_OK;
}

void ferc_balanced_sampler_draw(const ferc_balanced_sampler *s, ferc_rng *rng, int *out_idx, int m) {
    if (s->nclass <= 0) return;
    for (int j = 0; j < m; j++) {
        int c = s->cls[ferc_rng_below(rng, (uint32_t)s->nclass)];
        out_idx[j] = s->idx[s->start[c] + (int)ferc_rng_below(rng, (uint32_t)s->count[c])];
    }
}

void ferc_balanced_sampler_free(ferc_balanced_sampler *s) {
    if (!s) return;
    free(s->idx);
    memset(s, 0, sizeof *s);
}

int data_split_stratified(const ferc_dataset *d, float frac, uint64_t seed, int *scratch, int *train,
                          int *ntrain, int *val) {
    ferc_rng r;
    ferc_rng_seed(&r, seed ^ 0x5EED5EEDull);
    int nv = 0, nt = 0;
    for (int c = 0; c < FERC_NUM_CLASSES; c++) {
        int k = 0;
        for (int i = 0; i < d->n; i++) if (d->label[i] == c) scratch[k++] = i;
        for (int i = k - 1; i > 0; i--) {
            int j = (int)ferc_rng_below(&r, (uint32_t)i + 1);
            int t = scratch[i]; scratch[i] = scratch[j]; scratch[j] = t;
        }
        const int kv = (int)lround(frac * k);
        for (int i = 0; i < k; i++) {
            if (i < kv) val[nv++] = scratch[i];
            else if (train) train[nt++] = scratch[i];
        }
    }
    if (ntrain) *ntrain = nt;
    return nv;
}
