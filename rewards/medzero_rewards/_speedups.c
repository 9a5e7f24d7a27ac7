/* medzero_rewards._speedups: parsing.strict_spans compiled.
 *
 * The same function as medzero_rewards.parsing.strict_spans_python, decision for decision (the
 * hypothesis tests in tests/test_parsing.py compare the two on arbitrary text). It exists because the
 * GRPO reward calls it once per completion and the pure-Python version spends most of its time in the
 * interpreter, not in the four memchr scans it needs. Optional: without a C compiler the package
 * installs without it and parsing.py uses the Python version.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *end_token_stripper = NULL; /* parsing._strip_end_tokens, set at import */

/* text[pos:pos+n] == lit (an ASCII literal); false when out of range or pos < 0 (str.startswith with
 * the start of a missing tag, -1, is false for every literal longer than one character). */
static int
starts_with(int kind, const void *data, Py_ssize_t len, Py_ssize_t pos, const char *lit, Py_ssize_t n)
{
    if (pos < 0 || pos + n > len) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyUnicode_READ(kind, data, pos + i) != (Py_UCS4)(unsigned char)lit[i]) {
            return 0;
        }
    }
    return 1;
}

/* every character of text[a:b] is whitespace (str.isspace), for a < b */
static int
all_space(int kind, const void *data, Py_ssize_t a, Py_ssize_t b)
{
    for (Py_ssize_t i = a; i < b; i++) {
        if (!Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i))) {
            return 0;
        }
    }
    return 1;
}

/* text.find("<", start): -1 when absent, -2 on error */
static Py_ssize_t
find_lt(PyObject *text, Py_ssize_t start, Py_ssize_t len)
{
    if (start >= len) {
        return -1;
    }
    return PyUnicode_FindChar(text, '<', start, len, 1);
}

static PyObject *
strict_spans(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"think_prefilled", NULL};
    PyObject *text = NULL, *prefilled = Py_None;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;

    if (nargs != 1) {
        PyErr_SetString(PyExc_TypeError, "strict_spans() takes exactly one positional argument (text)");
        return NULL;
    }
    text = args[0];
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, i);
        if (PyUnicode_CompareWithASCIIString(key, names[0]) != 0) {
            PyErr_Format(PyExc_TypeError, "strict_spans() got an unexpected keyword argument '%U'", key);
            return NULL;
        }
        prefilled = args[nargs + i];
    }
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "strict_spans() argument must be str, not %.80s", Py_TYPE(text)->tp_name);
        return NULL;
    }
    int prefill_true = PyObject_IsTrue(prefilled);
    if (prefill_true < 0) {
        return NULL;
    }
    int prefill_false = prefilled == Py_False;

    Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t p, q, r, think_start;

    p = find_lt(text, 0, len);
    if (p == -2) {
        return NULL;
    }
    if (starts_with(kind, data, len, p, "<think>", 7)) {
        if (prefill_true || (p > 0 && !all_space(kind, data, 0, p))) {
            Py_RETURN_NONE;
        }
        think_start = p + 7;
        p = find_lt(text, think_start, len);
        if (p == -2) {
            return NULL;
        }
        if (!starts_with(kind, data, len, p, "</think>", 8)) {
            Py_RETURN_NONE;
        }
    }
    else if (starts_with(kind, data, len, p, "</think>", 8) && !prefill_false) {
        think_start = 0;
    }
    else {
        Py_RETURN_NONE;
    }
    q = find_lt(text, p + 8, len);
    if (q == -2) {
        return NULL;
    }
    if (!starts_with(kind, data, len, q, "<answer>", 8) || (q > p + 8 && !all_space(kind, data, p + 8, q))) {
        Py_RETURN_NONE;
    }
    r = find_lt(text, q + 8, len);
    if (r == -2) {
        return NULL;
    }
    if (!starts_with(kind, data, len, r, "</answer>", 9)) {
        Py_RETURN_NONE;
    }
    Py_ssize_t end = r + 9;
    if (end < len && !all_space(kind, data, end, len)) {
        Py_ssize_t lt = find_lt(text, end, len);
        if (lt == -2) {
            return NULL;
        }
        if (lt < 0 || end_token_stripper == NULL) {
            Py_RETURN_NONE;
        }
        /* whitespace and chat end tokens only? (rare: the Python helper decides) */
        PyObject *tail = PyUnicode_Substring(text, end, len);
        if (tail == NULL) {
            return NULL;
        }
        PyObject *rest = PyObject_CallOneArg(end_token_stripper, tail);
        Py_DECREF(tail);
        if (rest == NULL) {
            return NULL;
        }
        int nonempty = PyObject_IsTrue(rest);
        Py_DECREF(rest);
        if (nonempty < 0) {
            return NULL;
        }
        if (nonempty) {
            Py_RETURN_NONE;
        }
    }
    return Py_BuildValue("(nnnn)", think_start, p, q + 8, r);
}

static PyObject *
set_end_token_stripper(PyObject *self, PyObject *fn)
{
    if (!PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "the end-token stripper must be callable");
        return NULL;
    }
    Py_INCREF(fn);
    Py_XSETREF(end_token_stripper, fn);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"strict_spans", (PyCFunction)(void (*)(void))strict_spans, METH_FASTCALL | METH_KEYWORDS,
     "strict_spans(text, *, think_prefilled=None)\n--\n\n"
     "Compiled medzero_rewards.parsing.strict_spans_python (same results)."},
    {"set_end_token_stripper", set_end_token_stripper, METH_O,
     "Set the function that strips trailing chat end tokens (parsing._strip_end_tokens)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "medzero_rewards._speedups",
    "Compiled hot paths of medzero_rewards.parsing (optional; same results as the Python code).", -1, methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&module);
}
