/* Per-bin sums of a batch of (confidence, outcome) pairs in one pass over cache-sized blocks:
   the compiled core of analytics_engine.calibration_batch (which documents the fields).

   Per block of BLOCK outcomes:
   1. validate p and y (NaN or outside [0, 1]: return a status code, out not written) and find
      whether every y is 0 or 1 (binary block);
   2. vectorised: each outcome's accumulator row and its log-loss term (log_normal, below);
   3. scalar scatter-add of the per-outcome terms into the rows' partial sums;
   4. every few blocks, add the partial sums into the totals, compensated.
   A binary outcome goes to row 2·bin + y, so that Σy, Σy² and Σpy come out of the count and
   Σp of the y = 1 rows; the outcomes of a block holding a fractional y go to row 2·bin and add
   Σy, Σy² and Σpy explicitly. (p − y)², (y − p)(1 − 2p) and (1 − 2p)² p(1 − p) are summed
   term by term, not derived from the moments: derived, they cancel when p is close to y (a
   Brier score of −5.8e-16 for 1e5 outcomes at p = 1 − 1e-9, y = 1), and sums of squares must
   never be negative. The GIL is released during the pass, so another thread may change p or
   y meanwhile: the values are read again after validation, and nothing read then may index
   out of the rows (floor_bin clamps). Plain C and the buffer protocol: no numpy headers, no
   libm. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#define BLOCK 1024     /* outcomes per block: the block's temporaries stay in L1 */
#define FLUSH_OUTCOMES 4096 /* outcomes summed into the partial sums between two flushes */
#define LOG_EPS 1e-15  /* the clipping of p inside log loss, as LOG_EPS in calibration_batch */
#define MAX_BINS (1 << 29) /* row indices 2·bin + 1 fit an int32 */

enum { STATUS_OK = 0, STATUS_BAD_P = 1, STATUS_BAD_Y = 2 };

/* The sums of one accumulator row, in STAT_FIELDS order (M_LOG holds Σ log terms, negated when
   the table is written). Rows of y = 1 leave M_Y, M_Y2 and M_PY at 0. */
enum { M_COUNT, M_P, M_P2, M_Y, M_Y2, M_PY, M_SQ, M_LOG, M_NUM, M_VAR, N_FIELDS };
typedef struct {
    double m[N_FIELDS];
} Row;

/* One build serves every x86-64 CPU: gcc compiles the vectorised loops for AVX-512 (x86-64-v4),
   AVX2 + FMA (v3) and the baseline, and the loader picks the best the CPU has. The selects
   (a < b ? a : b) vectorise without AVX-512's masks only with -fno-trapping-math, which
   pyproject.toml passes: it lets the compiler evaluate both sides, and changes no result.
   target_clones needs ifunc, i.e. glibc's loader (musl has none: Alpine would fail to build or
   load), and gcc 11 for the arch=x86-64-vN names; clang spells the clones differently. Other
   builds get the plain loops. (__GLIBC__ is defined by the C library headers included above.) */
#if defined(__GLIBC__) && defined(__linux__) && defined(__x86_64__) && defined(__GNUC__) \
    && !defined(__clang__) && __GNUC__ >= 11
#define VECTOR_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VECTOR_CLONES
#endif

/* Natural log of a positive normal double, to < 1 ulp: the fdlibm algorithm (Sun, 1993; as in
   musl's log.c) written branch-free so that gcc vectorises it; libm's scalar log would not be.
   x is reduced to 2^k·(1 + f) with √2/2 <= 1 + f < √2, and log(1 + f) = f − f²/2 + s(f²/2 + R)
   with s = f/(2 + f) and R a degree-14 minimax polynomial in s. */
static const double LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10,
                    LG1 = 6.666666666666735130e-01, LG2 = 3.999999999940941908e-01,
                    LG3 = 2.857142874366239149e-01, LG4 = 2.222219843214978396e-01,
                    LG5 = 1.818357216161805012e-01, LG6 = 1.531383769920937332e-01,
                    LG7 = 1.479819860511658591e-01;

static inline double log_normal(double x)
{
    uint64_t ix, kbits, mbits;
    double f, dk;
    memcpy(&ix, &x, sizeof ix);
    ix += 0x3ff0000000000000ULL - 0x3fe6a09e00000000ULL;  /* exponent of √2/2·x */
    kbits = (ix >> 52) | 0x4330000000000000ULL;              /* k + 1023 + 2^52, as a double */
    memcpy(&dk, &kbits, sizeof dk);
    dk -= 4503599627370496.0 + 1023.0;
    mbits = (ix & 0x000fffffffffffffULL) + 0x3fe6a09e00000000ULL;
    memcpy(&f, &mbits, sizeof f);
    f -= 1.0;
    double hfsq = 0.5 * f * f, s = f / (2.0 + f), z = s * s, w = z * z;
    double r = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7))) + w * (LG2 + w * (LG4 + w * LG6));
    return s * (hfsq + r) + dk * LN2_LO - hfsq + f + dk * LN2_HI;
}

/* Status of a block; *binary set to whether every y is 0 or 1. */
VECTOR_CLONES static int validate_block(const double *restrict p, const double *restrict y,
                                        int n, int *binary)
{
    int ok_p = 1, ok_y = 1, fractional = 0;
    for (int i = 0; i < n; i++) {
        ok_p &= (p[i] >= 0.0) & (p[i] <= 1.0);  /* NaN fails both comparisons */
        ok_y &= (y[i] >= 0.0) & (y[i] <= 1.0);
        fractional |= (y[i] != 0.0) & (y[i] != 1.0);
    }
    *binary = !fractional;
    return !ok_p ? STATUS_BAD_P : !ok_y ? STATUS_BAD_Y : STATUS_OK;
}

/* floor(p · n_bins) in [0, n_bins − 1]: the vectorised first guess at p's bin, which
   bin_near_edge corrects. Both clamps also keep a p changed by another thread since validation
   (negative, above 1, NaN: to the last bin) inside the rows: the conversion of a negative or
   NaN double to int32 is undefined. */
static inline int32_t floor_bin(double p, int n_bins)
{
    double kf = p * n_bins;
    kf = kf < n_bins - 1 ? kf : n_bins - 1;
    kf = kf > 0.0 ? kf : 0.0;
    return (int32_t)kf;
}

/* The bin of p as scikit-learn's calibration_curve gives it: bin k is (edge k, edge k + 1], and
   p = 0 is in bin 0, with edge k = k · step, step = 1 / n_bins, as numpy's linspace computes it
   (see analytics_engine/binning.py). The guess floor(p · n_bins) can only be wrong when
   p · n_bins is within rounding of a whole number, i.e. p at or next to an edge: the vectorised
   loop marks those rows (NEAR_EDGE, a bit above every row index) and the scatter loop redoes
   only them, from the floor, moving at most one bin: down when p is at or below that bin's
   lower edge, up when above its upper edge. Away from an edge (p · n_bins more than 1e-6 from a whole number, far beyond rounding
   for any n_bins ≤ MAX_BINS) the guess is the bin. The result stays in [0, n_bins − 1] whatever
   p (NaN fails both comparisons). */
#define NEAR_EDGE (1 << 30)

static inline int32_t near_edge(double p, int n_bins)
{
    double x = p * n_bins;
    double d = x - __builtin_floor(x + 0.5);
    return (d < 1e-6 && d > -1e-6) ? NEAR_EDGE : 0;
}

static inline int32_t bin_near_edge(double p, int n_bins, double step)
{
    int32_t k = floor_bin(p, n_bins); /* from p as read now: whatever another thread did to it
                                         since, the bin is that value's */
    if (k > 0 && p <= (double)k * step)
        return k - 1;
    if (k < n_bins - 1 && p > (double)(k + 1) * step)
        return k + 1;
    return k;
}

static inline double clip_for_log(double p)
{
    double pc = p < LOG_EPS ? LOG_EPS : p;
    return pc > 1.0 - LOG_EPS ? 1.0 - LOG_EPS : pc;
}

/* Binary y: row 2·floor_bin + y (bin_near_edge redoes it near an edge) and log(p_c) if y = 1, else log(1 − p_c). */
VECTOR_CLONES static void prepare_binary(const double *restrict p, const double *restrict y,
                                         int n, int n_bins, int32_t *restrict row,
                                         double *restrict log_term)
{
    for (int i = 0; i < n; i++) {
        double pc = clip_for_log(p[i]);
        int32_t one = y[i] == 1.0;
        row[i] = (2 * floor_bin(p[i], n_bins) + one) | near_edge(p[i], n_bins);
        log_term[i] = log_normal(one ? pc : 1.0 - pc);
    }
}

/* Fractional y: row 2·floor_bin (bin_near_edge redoes it near an edge) and y·log(p_c) + (1 − y)·log(1 − p_c). */
VECTOR_CLONES static void prepare_fractional(const double *restrict p, const double *restrict y,
                                             int n, int n_bins, int32_t *restrict row,
                                             double *restrict log_term)
{
    for (int i = 0; i < n; i++) {
        double pc = clip_for_log(p[i]);
        row[i] = 2 * floor_bin(p[i], n_bins) | near_edge(p[i], n_bins);
        log_term[i] = y[i] * log_normal(pc) + (1.0 - y[i]) * log_normal(1.0 - pc);
    }
}

/* The terms of (p − y)², (y − p)(1 − 2p) and (1 − 2p)² p(1 − p) as calibration_stats._values
   writes them, so that add_many and repeated add agree to the order of summation. A binary
   outcome's y is the parity of its row: the y buffer is not read again. */
static inline void add_terms(double *restrict m, double p, double y, double log_term)
{
    double e = p - y, d = 1.0 - 2.0 * p;
    m[M_COUNT] += 1.0;
    m[M_P] += p;
    m[M_P2] += p * p;
    m[M_SQ] += e * e;
    m[M_LOG] += log_term;
    m[M_NUM] += -e * d;
    m[M_VAR] += d * d * p * (1.0 - p);
}

static void scatter_binary(Row *restrict acc, const double *restrict p,
                           const int32_t *restrict row, const double *restrict log_term, int n,
                           int n_bins)
{
    double step = 1.0 / n_bins;
    for (int i = 0; i < n; i++) {
        double pi = p[i];
        int32_t r = row[i];
        if (__builtin_expect(r & NEAR_EDGE, 0))
            r = 2 * bin_near_edge(pi, n_bins, step) + (r & 1);
        add_terms(acc[r].m, pi, (double)(r & 1), log_term[i]);
    }
}

static void scatter_fractional(Row *restrict acc, const double *restrict p,
                               const double *restrict y, const int32_t *restrict row,
                               const double *restrict log_term, int n, int n_bins)
{
    double step = 1.0 / n_bins;
    for (int i = 0; i < n; i++) {
        double pi = p[i], yi = y[i];
        int32_t r = row[i];
        if (__builtin_expect(r & NEAR_EDGE, 0))
            r = 2 * bin_near_edge(pi, n_bins, step);
        double *m = acc[r].m;
        add_terms(m, pi, yi, log_term[i]);
        m[M_Y] += yi;
        m[M_Y2] += yi * yi;
        m[M_PY] += pi * yi;
    }
}

/* The STAT_FIELDS table (N_FIELDS x n_bins, row-major) from the compensated totals of the rows:
   Σy, Σy² and Σpy of the y = 1 rows are their count, count and Σp. */
static void write_table(const Row *total, const Row *comp, Py_ssize_t n_bins, double *out)
{
    for (Py_ssize_t b = 0; b < n_bins; b++) {
        double m0[N_FIELDS], m1[N_FIELDS];  /* rows of y < 1 or fractional, and of y = 1 */
        for (int j = 0; j < N_FIELDS; j++) {
            m0[j] = total[2 * b].m[j] + comp[2 * b].m[j];
            m1[j] = total[2 * b + 1].m[j] + comp[2 * b + 1].m[j];
        }
        double fields[N_FIELDS];
        for (int f = 0; f < N_FIELDS; f++)
            fields[f] = m0[f] + m1[f];
        fields[M_Y] = m0[M_Y] + m1[M_COUNT];
        fields[M_Y2] = m0[M_Y2] + m1[M_COUNT];
        fields[M_PY] = m0[M_PY] + m1[M_P];
        fields[M_LOG] = 0.0 - fields[M_LOG];  /* not -(...): +0.0 for an empty bin */
        for (int f = 0; f < N_FIELDS; f++)
            out[f * n_bins + b] = fields[f];
    }
}

/* Adds the partial sums of one stretch of outcomes into the totals, compensated (Neumaier,
   1974: the rounding error of each addition is kept in comp), and zeroes the partial sums.
   Rows that received no outcome are skipped (with many bins, most of them). */
VECTOR_CLONES static void flush(Row *restrict total, Row *restrict comp, Row *restrict part,
                                Py_ssize_t n_rows)
{
    for (Py_ssize_t r = 0; r < n_rows; r++) {
        if (part[r].m[M_COUNT] == 0.0)
            continue;
        for (int j = 0; j < N_FIELDS; j++) {
            double a = total[r].m[j], b = part[r].m[j], t = a + b;
            double big = (a < 0 ? -a : a) < (b < 0 ? -b : b) ? b : a;
            double small = big == b ? a : b;
            comp[r].m[j] += (big - t) + small;
            total[r].m[j] = t;
            part[r].m[j] = 0.0;
        }
    }
}

/* part, total and comp: 2·n_bins rows each, zeroed. */
static int batch_sums_c(const double *p, const double *y, Py_ssize_t n, Py_ssize_t n_bins,
                        Row *part, Row *total, Row *comp, double *out)
{
    int32_t row[BLOCK];
    double log_term[BLOCK];
    Py_ssize_t n_rows = 2 * n_bins, n_sums = n_rows * N_FIELDS;
    /* Flush every FLUSH_OUTCOMES outcomes, or less often when there are more sums than that,
       so that flushing costs about one addition per outcome at most. */
    Py_ssize_t flush_every = (n_sums > FLUSH_OUTCOMES ? n_sums : FLUSH_OUTCOMES) / BLOCK;
    Py_ssize_t blocks = 0;
    for (Py_ssize_t start = 0; start < n; start += BLOCK) {
        int len = (int)(n - start < BLOCK ? n - start : BLOCK), binary;
        const double *pb = p + start, *yb = y + start;
        int status = validate_block(pb, yb, len, &binary);
        if (status != STATUS_OK)
            return status;
        if (binary) {
            prepare_binary(pb, yb, len, (int)n_bins, row, log_term);
            scatter_binary(part, pb, row, log_term, len, (int)n_bins);
        }
        else {
            prepare_fractional(pb, yb, len, (int)n_bins, row, log_term);
            scatter_fractional(part, pb, yb, row, log_term, len, (int)n_bins);
        }
        if (++blocks % flush_every == 0)
            flush(total, comp, part, n_rows);
    }
    flush(total, comp, part, n_rows);
    write_table(total, comp, n_bins, out);
    return STATUS_OK;
}

static int get_vector(PyObject *obj, Py_buffer *view, const char *name, int writable)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0)
        return -1;
    if (view->itemsize != sizeof(double) || view->format == NULL || strcmp(view->format, "d")) {
        PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous float64 buffer", name);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(batch_sums_doc,
             "batch_sums(p, y, out) -> status\n\n"
             "Write the STAT_FIELDS sums per bin of the outcomes (p[i], y[i]) into out, of shape\n"
             "(10, n_bins). p and y: 1-D C-contiguous float64 buffers of equal length; out:\n"
             "a writable C-contiguous float64 buffer. Returns 0, or 1 if p has a value outside\n"
             "[0, 1] or NaN, 2 if y has (out is then left unchanged).");

static PyObject *batch_sums(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *p_obj, *y_obj, *out_obj, *result = NULL;
    Py_buffer p, y, out;
    if (!PyArg_ParseTuple(args, "OOO:batch_sums", &p_obj, &y_obj, &out_obj))
        return NULL;
    if (get_vector(p_obj, &p, "p", 0) < 0)
        return NULL;
    if (get_vector(y_obj, &y, "y", 0) < 0)
        goto release_p;
    if (get_vector(out_obj, &out, "out", 1) < 0)
        goto release_y;
    if (p.ndim != 1 || y.ndim != 1 || p.shape[0] != y.shape[0]) {
        PyErr_SetString(PyExc_ValueError, "p and y must be 1-D buffers of the same length");
        goto release_out;
    }
    if (out.ndim != 2 || out.shape[0] != N_FIELDS || out.shape[1] < 1) {
        PyErr_SetString(PyExc_ValueError, "out must have shape (10, n_bins)");
        goto release_out;
    }
    Py_ssize_t n_bins = out.shape[1];
    if (n_bins > MAX_BINS) {
        PyErr_Format(PyExc_ValueError, "n_bins must be at most %d, got %zd", MAX_BINS, n_bins);
        goto release_out;
    }
    Row *acc = PyMem_RawCalloc((size_t)(6 * n_bins), sizeof(Row));
    if (acc == NULL) {
        PyErr_NoMemory();
        goto release_out;
    }
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = batch_sums_c(p.buf, y.buf, p.shape[0], n_bins, acc, acc + 2 * n_bins,
                          acc + 4 * n_bins, out.buf);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(acc);
    result = PyLong_FromLong(status);
release_out:
    PyBuffer_Release(&out);
release_y:
    PyBuffer_Release(&y);
release_p:
    PyBuffer_Release(&p);
    return result;
}

static PyMethodDef methods[] = {
    {"batch_sums", batch_sums, METH_VARARGS, batch_sums_doc},
    {NULL, NULL, 0, NULL},
};

static int exec_module(PyObject *module)
{
    if (PyModule_AddIntConstant(module, "BLOCK", BLOCK) < 0)
        return -1;
    if (PyModule_AddIntConstant(module, "MAX_BINS", MAX_BINS) < 0)
        return -1;
    if (PyModule_AddIntConstant(module, "STATUS_BAD_P", STATUS_BAD_P) < 0)
        return -1;
    return PyModule_AddIntConstant(module, "STATUS_BAD_Y", STATUS_BAD_Y);
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "analytics_engine._batch_kernel",
    .m_doc = "Compiled core of analytics_engine.calibration_batch: per-bin sums of a batch.",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC PyInit__batch_kernel(void)
{
    return PyModuleDef_Init(&module_def);
}
