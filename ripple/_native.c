/* ripple._native: the hottest loops of file ingest, in C.

   Each C function does exactly what a Python twin does, and the tests hold them to the same
   answers (tests/unit/test_native.py, tests/unit/test_merge.py). The exported functions, then
   the helpers within them that have a twin of their own:

   C function     Python twin (module: function)
   -------------  ----------------------------------------------------------------------------
   apply          ripple.graph.memory: MemoryGraph.apply (its Python branch)
   schema         ripple.ingest.fastparse: _schema_fields
   lineage        ripple.ingest.fastparse: _lineage_entries (its entries and fields)
   project        ripple.ingest.projection: project (of fastparse.parse_event_json's event)
   project_many   ripple.ingest.projection: project (for each body, as above)
   depth          ripple.ingest.fastparse: _deep_at
   setup          ripple.graph.native: _load (no twin: the one call that hands in every fact)
   touch          ripple.graph.merge: touch
   merge          ripple.graph.merge: merge (a tie: calls merge.wins)
   prefix_code    ripple.graph.codes: kind_of_id
   apply_facts    ripple.graph.memory: MemoryGraph._apply_columns
   new_column     ripple.graph.memory: MemoryGraph._new_column
   facet_value    ripple.ingest.fastparse: _schema, _lineage
   schema_value   ripple.ingest.columns: schema_value
   lineage_value  ripple.ingest.columns: lineage_value
   project_event  ripple.ingest.projection: project
   utc_time       ripple.ingest.fields: parse_timestamp (then datetime.isoformat)
   run_uuid       ripple.ingest.fastparse: _uuid

   (tests/unit/test_native.py checks that each row names a function of this file and one of
   Python, and that every exported function has a row.)

   The readers decline (answer None) anything unusual, which the Python parser then reads and,
   if need be, rejects; schema() flattens nested fields to "parent.child", and lineage() reads
   JSON that msgspec has already checked. Python keeps every decision that is not in these
   loops (a tie between two values of one stamp, an id of no known kind: the loops call back);
   without this module (no C compiler when installing, or RIPPLE_NATIVE=0), Ripple runs the
   Python twins and is only slower. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <structmember.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* -- the facts Python hands in: setup() ---------------------------------------------------------

   This file holds no fact of Ripple's own: every name, key, prefix, code, kind, rank and facet
   name the loops use is handed in once by setup() (ripple/graph/native.py, from graph/codes.py,
   graph/merge.py, graph/delta.py and model.py) and held here, interned, for the life of the
   process. What stays are JSON's own words (null, true, false) and the forms of the standard
   library the loops reproduce (datetime.isoformat, str(uuid.UUID)). */

/* A str handed in, with its UTF-8 text for comparing raw JSON bytes (valid while it is held). */
typedef struct {
    PyObject *str;
    const char *utf8;
    Py_ssize_t len;
} Name;

/* Every str setup() takes, by its keyword. */
#define NAME_LIST(X)                                                                               \
    /* node ids, stamps, column-fact versions (graph/codes.py, graph/merge.py, model.py) */       \
    X(ID_SEPARATOR, "id_separator")                                                                \
    X(ESCAPED, "escaped")                                                                          \
    X(DATASET_PREFIX, "dataset_prefix")                                                            \
    X(COLUMN_PREFIX, "column_prefix")                                                              \
    X(JOB_PREFIX, "job_prefix")                                                                    \
    X(RUN_PREFIX, "run_prefix")                                                                    \
    X(STAMP_SEPARATOR, "stamp_separator")                                                          \
    X(SCHEMA_TAG, "schema_tag")                                                                    \
    X(LINEAGE_TAG, "lineage_tag")                                                                  \
    X(DIRECT_TYPE, "direct_type")                                                                  \
    X(INDIRECT_TYPE, "indirect_type")                                                              \
    X(FIELD_PATH_SEPARATOR, "field_path_separator")                                                \
    /* the node properties the projection writes (model.Prop) */                                  \
    X(P_NAMESPACE, "prop_namespace")                                                               \
    X(P_NAME, "prop_name")                                                                         \
    X(P_TYPE, "prop_type")                                                                         \
    X(P_RUN_ID, "prop_run_id")                                                                     \
    X(P_JOB, "prop_job")                                                                           \
    X(P_STATE, "prop_state")                                                                       \
    X(P_UPDATED_AT, "prop_updated_at")                                                             \
    X(P_STARTED_AT, "prop_started_at")                                                             \
    X(P_ENDED_AT, "prop_ended_at")                                                                 \
    X(P_NOMINAL_START, "prop_nominal_start")                                                       \
    X(P_NOMINAL_END, "prop_nominal_end")                                                           \
    X(P_LAST_RUN, "prop_last_run")                                                                 \
    X(P_LAST_RUN_STATE, "prop_last_run_state")                                                     \
    X(P_UNRESOLVED, "prop_unresolved")                                                             \
    X(P_FACET, "prop_facet")                                                                       \
    X(P_INPUT, "prop_input")                                                                       \
    X(P_OUTPUT, "prop_output")                                                                     \
    /* the facets read beyond their shape (model.Facet) */                                        \
    X(F_SCHEMA, "facet_schema")                                                                    \
    X(F_COLUMN_LINEAGE, "facet_column_lineage")                                                    \
    X(F_JOB_TYPE, "facet_job_type")                                                                \
    X(F_NOMINAL_TIME, "facet_nominal_time")                                                        \
    X(F_OUTPUT_STATISTICS, "facet_output_statistics")                                              \
    X(F_SYMLINKS, "facet_symlinks")                                                                \
    /* OpenLineage keys: of the decoded event's structs, and of the facets read here (model.Key) */ \
    X(K_EVENT_TIME, "key_event_time")                                                              \
    X(K_EVENT_TYPE, "key_event_type")                                                              \
    X(K_RUN, "key_run")                                                                            \
    X(K_JOB, "key_job")                                                                            \
    X(K_INPUTS, "key_inputs")                                                                      \
    X(K_OUTPUTS, "key_outputs")                                                                    \
    X(K_DATASET, "key_dataset")                                                                    \
    X(K_RUN_ID, "key_run_id")                                                                      \
    X(K_NAMESPACE, "key_namespace")                                                                \
    X(K_NAME, "key_name")                                                                          \
    X(K_FACETS, "key_facets")                                                                      \
    X(K_INPUT_FACETS, "key_input_facets")                                                          \
    X(K_OUTPUT_FACETS, "key_output_facets")                                                        \
    X(K_FIELDS, "key_fields")                                                                      \
    X(K_TYPE, "key_type")                                                                          \
    X(K_DESCRIPTION, "key_description")                                                            \
    X(K_INPUT_FIELDS, "key_input_fields")                                                          \
    X(K_TRANSFORMATION_TYPE, "key_transformation_type")                                            \
    X(K_TRANSFORMATION_DESCRIPTION, "key_transformation_description")                              \
    X(K_FIELD, "key_field")                                                                        \
    X(K_TRANSFORMATIONS, "key_transformations")                                                    \
    X(K_SUBTYPE, "key_subtype")                                                                    \
    X(K_MASKING, "key_masking")                                                                    \
    X(K_IDENTIFIERS, "key_identifiers")                                                            \
    X(K_JOB_TYPE, "key_job_type")                                                                  \
    X(K_PROCESSING_TYPE, "key_processing_type")                                                    \
    X(K_INTEGRATION, "key_integration")                                                            \
    X(K_NOMINAL_START_TIME, "key_nominal_start_time")                                              \
    X(K_NOMINAL_END_TIME, "key_nominal_end_time")                                                  \
    X(K_ROW_COUNT, "key_row_count")                                                                \
    X(K_SIZE, "key_size")                                                                          \
    X(K_FILE_COUNT, "key_file_count")

#define NAME_ENUM(id, keyword) N_##id,
enum { NAME_LIST(NAME_ENUM) NAME_COUNT };
#undef NAME_ENUM
#define NAME_KEYWORD(id, keyword) keyword,
static const char *const NAME_KEYWORDS[NAME_COUNT] = {NAME_LIST(NAME_KEYWORD)};
#undef NAME_KEYWORD

static Name NAMES[NAME_COUNT];
#define S(id) (NAMES[N_##id].str) /* the str itself */
#define NAME(id) (&NAMES[N_##id])

static Py_UCS4 ID_SEPARATOR_CHAR, STAMP_SEPARATOR_CHAR; /* the two one-character separators */
static PyObject *S_EMPTY;                               /* "", as Python's `x or ""` gives */
static int SET_UP = 0;                                  /* whether setup() has succeeded */

static int ready(void) {
    if (!SET_UP) {
        PyErr_SetString(PyExc_RuntimeError, "ripple._native.setup() was not called");
    }
    return SET_UP;
}

/* The codes and types the graph loops need (graph/codes.py, graph/delta.py). */
static long DATASET_CODE = -1, COLUMN_CODE, HAS_COLUMN, DIRECT, INDIRECT;
static PyTypeObject *LINEAGE_ENTRY = NULL;

/* A class of graph/delta.py: the names of the fields the loops use (read with getattr) and their
   slots (which project() fills directly: the classes are dataclasses with __slots__). */
typedef struct {
    PyTypeObject *type;
    PyObject *names[5];
    Py_ssize_t offsets[5];
    int count;
} Shape;

static Shape DELTA, NODE_UPSERT, EDGE_UPSERT, COLUMN_FACTS;
/* their fields, in the order setup() takes their names */
#define DELTA_STAMP (DELTA.names[0])
#define DELTA_RUN (DELTA.names[1])
#define DELTA_NODES (DELTA.names[2])
#define DELTA_EDGES (DELTA.names[3])
#define DELTA_COLUMNS (DELTA.names[4])
#define NODE_ID (NODE_UPSERT.names[0])
#define NODE_KIND (NODE_UPSERT.names[1])
#define NODE_PROPS (NODE_UPSERT.names[2])
#define EDGE_SRC (EDGE_UPSERT.names[0])
#define EDGE_KIND (EDGE_UPSERT.names[1])
#define EDGE_DST (EDGE_UPSERT.names[2])
#define EDGE_PROPS (EDGE_UPSERT.names[3])
#define EDGE_VARIANT (EDGE_UPSERT.names[4])
#define FACTS_DATASET (COLUMN_FACTS.names[0])
#define FACTS_SCHEMA (COLUMN_FACTS.names[1])
#define FACTS_LINEAGE (COLUMN_FACTS.names[2])
#define FACTS_LINEAGE_DIGEST (COLUMN_FACTS.names[3])

/* The concatenation of `n` strs (a NULL part is skipped): one allocation, where
   PyUnicode_FromFormat would parse its format every time. */
static PyObject *join(PyObject **parts, int n) {
    Py_ssize_t length = 0;
    Py_UCS4 widest = 127;
    for (int i = 0; i < n; i++) {
        if (parts[i] == NULL) {
            continue;
        }
        if (!PyUnicode_Check(parts[i])) {
            PyErr_SetString(PyExc_TypeError, "join: not a str");
            return NULL;
        }
        length += PyUnicode_GET_LENGTH(parts[i]);
        Py_UCS4 max = PyUnicode_MAX_CHAR_VALUE(parts[i]);
        widest = max > widest ? max : widest;
    }
    PyObject *out = PyUnicode_New(length, widest);
    Py_ssize_t at = 0;
    for (int i = 0; out != NULL && i < n; i++) {
        if (parts[i] == NULL) {
            continue;
        }
        if (PyUnicode_CopyCharacters(out, at, parts[i], 0, PyUnicode_GET_LENGTH(parts[i])) < 0) {
            Py_CLEAR(out);
            break;
        }
        at += PyUnicode_GET_LENGTH(parts[i]);
    }
    return out;
}

/* -- node ids (model.pair_body, model.field_part) ---------------------------------------------

   A dataset's or job's id is its Marquez id when Marquez's rule reads that back as the same
   (namespace, name) — nearly always; the projection and lineage readers decline any other pair,
   which Python escapes. A column's field is escaped (by Python: FIELD_PART) when it holds the
   separator or starts with the escape mark. */

/* model.reads_back on UTF-8 text: whether "<a>:<b>" splits as (a, b). A ':' separates unless
   "//" or an ASCII digit follows it; a part left empty means the text does not read at all. */
static int reads_back(const char *a, Py_ssize_t na, const char *b, Py_ssize_t nb) {
    const char sep = (char)ID_SEPARATOR_CHAR;
    if (na == 0 || nb == 0) {
        return 0;
    }
    int in_b = memchr(b, sep, (size_t)nb) != NULL;
    if (!in_b && memchr(a, sep, (size_t)na) == NULL) {
        return 1;
    }
    Py_ssize_t n = na + 1 + nb, first = -1, last = -2;
#define AT(i) ((i) < na ? a[i] : (i) == na ? sep : b[(i) - na - 1])
    for (Py_ssize_t i = 0; i < n; i++) {
        if (AT(i) != sep) {
            continue;
        }
        char next = i + 1 < n ? AT(i + 1) : 0;
        if ((next >= '0' && next <= '9') || (next == '/' && i + 2 < n && AT(i + 2) == '/')) {
            continue;
        }
        if (i == 0 || i == n - 1 || i == last + 1) {
            return 0;
        }
        first = first < 0 ? i : first;
        last = i;
    }
#undef AT
    return first < 0 ? !in_b : first == na;
}

static Py_UCS4 ESCAPED_CHAR; /* the escape mark's one character */

/* Whether the str pair's node id is its Marquez id (model.pair_body); -1 on error. */
static int plain_pair(PyObject *ns, PyObject *name) {
    if (!PyUnicode_Check(ns) || !PyUnicode_Check(name)) {
        PyErr_SetString(PyExc_TypeError, "plain_pair: not a str");
        return -1;
    }
    Py_ssize_t na = PyUnicode_GET_LENGTH(ns), nb = PyUnicode_GET_LENGTH(name);
    if (na == 0 || nb == 0 || PyUnicode_READ_CHAR(ns, 0) == ESCAPED_CHAR) {
        return 0;
    }
    if (PyUnicode_FindChar(ns, ID_SEPARATOR_CHAR, 0, na, 1) == -1 &&
        PyUnicode_FindChar(name, ID_SEPARATOR_CHAR, 0, nb, 1) == -1) {
        return 1;
    }
    const char *a = PyUnicode_AsUTF8AndSize(ns, &na);
    const char *b = a ? PyUnicode_AsUTF8AndSize(name, &nb) : NULL;
    return b == NULL ? -1 : reads_back(a, na, b, nb);
}

static PyObject *FIELD_PART = NULL; /* model.field_part */

/* A column's id: its prefix and its field, escaped by model.field_part if need be. */
static PyObject *column_of(PyObject *prefix, PyObject *field) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(field);
    if ((n > 0 && PyUnicode_READ_CHAR(field, 0) == ESCAPED_CHAR) ||
        PyUnicode_FindChar(field, ID_SEPARATOR_CHAR, 0, n, 1) != -1) {
        PyObject *part = PyObject_CallOneArg(FIELD_PART, field);
        PyObject *id = part ? PyUnicode_Concat(prefix, part) : NULL;
        Py_XDECREF(part);
        return id;
    }
    return PyUnicode_Concat(prefix, field);
}

/* -- column facts (MemoryGraph._apply_columns) ------------------------------------------------------------------------- */

typedef struct {
    PyObject *index, *ids, *kinds, *records, *out, *inc, *edges, *columns; /* borrowed for a call */
} Graph;

static PyObject *edge_key(Py_ssize_t src, Py_ssize_t dst, long code) {
    /* (src << 40) | (dst << 4) | code, as MemoryGraph keys its edges */
    if (src < ((Py_ssize_t)1 << 23) && dst < ((Py_ssize_t)1 << 32)) {
        return PyLong_FromLongLong(((long long)src << 40) | ((long long)dst << 4) | code);
    }
    PyObject *s = PyLong_FromSsize_t(src), *forty = PyLong_FromLong(40), *rest = NULL,
             *shifted = NULL, *key = NULL;
    if (s && forty && (shifted = PyNumber_Lshift(s, forty)) &&
        (rest = PyLong_FromLongLong(((long long)dst << 4) | code))) {
        key = PyNumber_Or(shifted, rest);
    }
    Py_XDECREF(s);
    Py_XDECREF(forty);
    Py_XDECREF(shifted);
    Py_XDECREF(rest);
    return key;
}

static int append_adjacency(PyObject *lists, Py_ssize_t at, Py_ssize_t other, long code) {
    PyObject *entry = PyLong_FromLongLong(((long long)other << 4) | code);
    if (entry == NULL) {
        return -1;
    }
    int rc = PyList_Append(PyList_GET_ITEM(lists, at), entry);
    Py_DECREF(entry);
    return rc;
}

/* A new node: index, ids, kinds, an empty adjacency each way; `record` is stolen. */
static Py_ssize_t new_node(Graph *g, PyObject *node_id, long code, PyObject *record) {
    Py_ssize_t idx = PyList_GET_SIZE(g->ids);
    PyObject *number = PyLong_FromSsize_t(idx), *out = PyList_New(0), *inc = PyList_New(0);
    int ok = number && out && inc && record && PyDict_SetItem(g->index, node_id, number) == 0 &&
             PyList_Append(g->ids, node_id) == 0 &&
             PyByteArray_Resize(g->kinds, idx + 1) == 0;
    if (ok) {
        PyByteArray_AS_STRING(g->kinds)[idx] = (char)code;
        ok = PyList_Append(g->records, record) == 0 && PyList_Append(g->out, out) == 0 &&
             PyList_Append(g->inc, inc) == 0;
    }
    Py_XDECREF(number);
    Py_XDECREF(out);
    Py_XDECREF(inc);
    Py_XDECREF(record);
    return ok ? idx : -1;
}

/* A column of dataset `ds` and its HAS_COLUMN edge (MemoryGraph._new_column). */
static Py_ssize_t new_column(Graph *g, Py_ssize_t ds, PyObject *column_id) {
    Py_INCREF(Py_None);
    Py_ssize_t idx = new_node(g, column_id, COLUMN_CODE, Py_None);
    if (idx < 0 || append_adjacency(g->inc, idx, ds, HAS_COLUMN) < 0 ||
        append_adjacency(g->out, ds, idx, HAS_COLUMN) < 0) {
        return -1;
    }
    PyObject *key = edge_key(ds, idx, HAS_COLUMN);
    int rc = key == NULL ? -1 : PyDict_SetItem(g->edges, key, Py_None);
    Py_XDECREF(key);
    return rc < 0 ? -1 : idx;
}

static Py_ssize_t lookup(Graph *g, PyObject *node_id) {
    /* the node's index, -1 if absent, -2 on error */
    PyObject *found = PyDict_GetItemWithError(g->index, node_id);
    if (found == NULL) {
        return PyErr_Occurred() ? -2 : -1;
    }
    Py_ssize_t idx = PyLong_AsSsize_t(found);
    if (idx == -1 && PyErr_Occurred()) {
        return -2;
    }
    if (idx < 0 || idx >= PyList_GET_SIZE(g->ids) || idx >= PyList_GET_SIZE(g->records) ||
        idx >= PyList_GET_SIZE(g->out) || idx >= PyList_GET_SIZE(g->inc)) {
        PyErr_Format(PyExc_IndexError, "apply: graph.index gives %zd for %R, beyond its lists", idx,
                     node_id);
        return -2;
    }
    return idx;
}

static int str_or_empty_gt(PyObject *a, PyObject *b) {
    /* (a or "") > (b or "") */
    return PyObject_RichCompareBool(a == Py_None ? S_EMPTY : a, b == Py_None ? S_EMPTY : b, Py_GT);
}

/* memory._touch: keep the earliest time, and the latest stamp with its run. */
static int touch(PyObject *record, PyObject *time, PyObject *stamp, PyObject *run) {
    if (!PyList_Check(record) || PyList_GET_SIZE(record) < 3) {
        PyErr_SetString(PyExc_TypeError, "apply: a record or version is not a list");
        return -1;
    }
    PyObject *first = PyList_GET_ITEM(record, 0);
    int earlier = first == Py_None ? 1 : PyObject_RichCompareBool(time, first, Py_LT);
    if (earlier < 0) {
        return -1;
    }
    if (earlier) {
        Py_INCREF(time);
        PyList_SetItem(record, 0, time);
    }
    PyObject *last = PyList_GET_ITEM(record, 1);
    int later = last == Py_None ? 1 : PyObject_RichCompareBool(stamp, last, Py_GT);
    if (later == 0) {
        int same = PyObject_RichCompareBool(stamp, last, Py_EQ);
        if (same < 0) {
            return -1;
        }
        later = same ? str_or_empty_gt(run, PyList_GET_ITEM(record, 2)) : 0;
    }
    if (later < 0) {
        return -1;
    }
    if (later) {
        Py_INCREF(stamp);
        PyList_SetItem(record, 1, stamp);
        Py_INCREF(run);
        PyList_SetItem(record, 2, run);
    }
    return 0;
}

static PyObject *version(PyObject *time, PyObject *stamp, PyObject *run, PyObject *payload) {
    /* [time, stamp, run, payload]; steals payload */
    PyObject *v = PyList_New(4);
    if (v == NULL) {
        Py_DECREF(payload);
        return NULL;
    }
    Py_INCREF(time);
    Py_INCREF(stamp);
    Py_INCREF(run);
    PyList_SET_ITEM(v, 0, time);
    PyList_SET_ITEM(v, 1, stamp);
    PyList_SET_ITEM(v, 2, run);
    PyList_SET_ITEM(v, 3, payload);
    return v;
}

static PyObject *interned(PyObject *s) {
    /* a new reference to the interned copy of `s` (None stays None) */
    Py_INCREF(s);
    if (PyUnicode_CheckExact(s)) {
        PyUnicode_InternInPlace(&s);
    }
    return s;
}

/* Returns the existing version (borrowed) or NULL with found=0, or -1 on error. */
static int find_version(PyObject *versions, PyObject *tag, PyObject *digest, PyObject **key,
                        PyObject **found) {
    *key = PyUnicode_Concat(tag, digest);
    if (*key == NULL) {
        return -1;
    }
    *found = PyDict_GetItemWithError(versions, *key);
    return (*found == NULL && PyErr_Occurred()) ? -1 : 0;
}

static int apply_schema(Graph *g, Py_ssize_t ds, PyObject *versions, PyObject *prefix,
                        PyObject *schema, PyObject *time, PyObject *stamp, PyObject *run) {
    PyObject *fields = PyTuple_GET_ITEM(schema, 0), *key, *found;
    if (find_version(versions, S(SCHEMA_TAG), PyTuple_GET_ITEM(schema, 1), &key, &found) < 0) {
        return -1;
    }
    int rc = 0;
    if (found != NULL) {
        rc = touch(found, time, stamp, run);
    } else {
        Py_INCREF(fields);
        PyObject *v = version(time, stamp, run, fields);
        rc = v == NULL ? -1 : PyDict_SetItem(versions, key, v);
        Py_XDECREF(v);
        for (Py_ssize_t i = 0; rc == 0 && i < PyTuple_GET_SIZE(fields); i++) {
            PyObject *field = PyTuple_GET_ITEM(fields, i);
            if (!PyTuple_Check(field) || PyTuple_GET_SIZE(field) != 3) {
                PyErr_SetString(PyExc_TypeError, "apply: a schema field is not a 3-tuple");
                rc = -1;
                break;
            }
            PyObject *column_id = column_of(prefix, PyTuple_GET_ITEM(field, 0));
            if (column_id == NULL) {
                rc = -1;
                break;
            }
            int present = PyDict_Contains(g->index, column_id);
            if (present < 0 || (present == 0 && new_column(g, ds, column_id) < 0)) {
                rc = -1;
            }
            Py_DECREF(column_id);
        }
    }
    Py_DECREF(key);
    return rc;
}

static int apply_lineage(Graph *g, Py_ssize_t ds, PyObject *versions, PyObject *prefix,
                         PyObject *entries, PyObject *digest, PyObject *time, PyObject *stamp,
                         PyObject *run) {
    PyObject *key, *found;
    if (find_version(versions, S(LINEAGE_TAG), digest, &key, &found) < 0) {
        return -1;
    }
    if (found != NULL) {
        int rc = touch(found, time, stamp, run);
        Py_DECREF(key);
        return rc;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(entries);
    PyObject *payload = PyTuple_New(n), *dst_id = NULL;
    int rc = payload == NULL ? -1 : 0;
    /* Entries come grouped by output column and cite a few datasets, mostly as the same str
       objects: the last ones looked up are remembered by identity, which spares most lookups in
       the graph's large index (each a likely cache miss). */
    PyObject *last_ds_id = NULL, *last_dst_field = NULL;
    Py_ssize_t last_ds = -1, last_dst = -1;
    for (Py_ssize_t i = 0; rc == 0 && i < n; i++) {
        PyObject *entry = PyTuple_GET_ITEM(entries, i);
        rc = -1;
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 7) {
            PyErr_SetString(PyExc_TypeError, "apply: a lineage entry is not a 7-tuple");
            break;
        }
        PyObject *src_ds_id = PyTuple_GET_ITEM(entry, 0), *src_id = PyTuple_GET_ITEM(entry, 1),
                 *dst_field = PyTuple_GET_ITEM(entry, 2), *kind = PyTuple_GET_ITEM(entry, 3);
        Py_ssize_t src_ds = src_ds_id == last_ds_id ? last_ds : lookup(g, src_ds_id);
        if (src_ds == -1) {
            PyErr_SetObject(PyExc_KeyError, src_ds_id);
        }
        if (src_ds < 0) {
            break;
        }
        last_ds_id = src_ds_id;
        last_ds = src_ds;
        Py_ssize_t src = lookup(g, src_id);
        if (src == -1) { /* projection keeps only datasets the event names */
            src = new_column(g, src_ds, src_id);
        }
        if (src < 0) {
            break;
        }
        Py_ssize_t dst = last_dst;
        if (dst_field != last_dst_field || dst < 0) {
            dst_id = column_of(prefix, dst_field == Py_None ? S_EMPTY : dst_field);
            if (dst_id == NULL) {
                break;
            }
            dst = lookup(g, dst_id);
            if (dst == -1) {
                dst = new_column(g, ds, dst_id);
            }
            Py_CLEAR(dst_id);
            if (dst < 0) {
                break;
            }
            last_dst_field = dst_field;
            last_dst = dst;
        }
        int direct = kind == S(DIRECT_TYPE) || PyUnicode_Compare(kind, S(DIRECT_TYPE)) == 0;
        if (direct == 0 && PyErr_Occurred()) {
            break;
        }
        long code = direct ? DIRECT : INDIRECT;
        PyObject *edge = edge_key(src, dst, code);
        if (edge == NULL) {
            break;
        }
        int present = PyDict_Contains(g->edges, edge);
        if (present == 0) {
            present = PyDict_SetItem(g->edges, edge, Py_None) == 0 &&
                              append_adjacency(g->out, src, dst, code) == 0 &&
                              append_adjacency(g->inc, dst, src, code) == 0
                          ? 0
                          : -1;
        }
        Py_DECREF(edge);
        if (present < 0) {
            break;
        }
        PyObject *item = PyTuple_New(7);
        if (item == NULL) {
            break;
        }
        PyObject *ds_name = PyList_GET_ITEM(g->ids, src_ds), *src_name = PyList_GET_ITEM(g->ids, src);
        Py_INCREF(ds_name);
        Py_INCREF(src_name);
        PyTuple_SET_ITEM(item, 0, ds_name);
        PyTuple_SET_ITEM(item, 1, src_name);
        PyTuple_SET_ITEM(item, 2, interned(dst_field));
        PyTuple_SET_ITEM(item, 3, interned(kind));
        PyTuple_SET_ITEM(item, 4, interned(PyTuple_GET_ITEM(entry, 4)));
        for (int k = 5; k < 7; k++) {
            PyObject *value = PyTuple_GET_ITEM(entry, k);
            Py_INCREF(value);
            PyTuple_SET_ITEM(item, k, value);
        }
        PyTuple_SET_ITEM(payload, i, item);
        rc = 0;
    }
    if (rc == 0) {
        PyObject *v = version(time, stamp, run, payload);
        payload = NULL;
        rc = v == NULL ? -1 : PyDict_SetItem(versions, key, v);
        Py_XDECREF(v);
    }
    Py_XDECREF(payload);
    Py_XDECREF(dst_id);
    Py_DECREF(key);
    return rc;
}

static int apply_facts(Graph *g, PyObject *facts, PyObject *time, PyObject *stamp, PyObject *run) {
    PyObject *ds_id = NULL, *schema = NULL, *entries = NULL, *digest = NULL, *prefix = NULL,
             *tail = NULL, *number = NULL;
    int rc = -1;
    if (!(ds_id = PyObject_GetAttr(facts, FACTS_DATASET)) ||
        !(schema = PyObject_GetAttr(facts, FACTS_SCHEMA)) ||
        !(entries = PyObject_GetAttr(facts, FACTS_LINEAGE)) ||
        !(digest = PyObject_GetAttr(facts, FACTS_LINEAGE_DIGEST))) {
        goto done;
    }
    if (!PyUnicode_Check(ds_id) || !PyTuple_Check(entries) ||
        (schema != Py_None && !(PyTuple_Check(schema) && PyTuple_GET_SIZE(schema) == 2 &&
                                PyTuple_Check(PyTuple_GET_ITEM(schema, 0))))) {
        PyErr_SetString(PyExc_TypeError, "apply: malformed ColumnFacts");
        goto done;
    }
    Py_ssize_t ds = lookup(g, ds_id);
    if (ds == -1) {
        PyObject *record = Py_BuildValue("[OOO{}{}]", time, stamp, run);
        ds = new_node(g, ds_id, DATASET_CODE, record);
    }
    if (ds < 0) {
        goto done;
    }
    if (!(number = PyLong_FromSsize_t(ds))) {
        goto done;
    }
    PyObject *versions = PyDict_GetItemWithError(g->columns, number);
    if (versions == NULL) {
        if (PyErr_Occurred() || !(versions = PyDict_New())) {
            goto done;
        }
        int set = PyDict_SetItem(g->columns, number, versions);
        Py_DECREF(versions); /* the graph holds it */
        if (set < 0) {
            goto done;
        }
    }
    /* a column id is its dataset's id, the column prefix for the dataset one, plus ":<field>"
       (codes.column_prefix) */
    if (!(tail = PyUnicode_Substring(ds_id, NAME(DATASET_PREFIX)->len, PY_SSIZE_T_MAX)) ||
        !(prefix = join((PyObject *[]){S(COLUMN_PREFIX), tail, S(ID_SEPARATOR)}, 3))) {
        goto done;
    }
    if (schema != Py_None &&
        apply_schema(g, ds, versions, prefix, schema, time, stamp, run) < 0) {
        goto done;
    }
    if (digest != Py_None &&
        apply_lineage(g, ds, versions, prefix, entries, digest, time, stamp, run) < 0) {
        goto done;
    }
    rc = 0;
done:
    Py_XDECREF(ds_id);
    Py_XDECREF(schema);
    Py_XDECREF(entries);
    Py_XDECREF(digest);
    Py_XDECREF(prefix);
    Py_XDECREF(tail);
    Py_XDECREF(number);
    return rc;
}

/* The graph's parts, as MemoryGraph.apply hands them (borrowed: the call holds them); -1 with
   a TypeError if one is not of its type. */
static int graph_parts(PyObject *const *args, Graph *g) {
    static const char *names[] = {"index", "ids", "kinds", "records", "out", "inc", "edges",
                                  "columns"};
    PyTypeObject *types[] = {&PyDict_Type, &PyList_Type, &PyByteArray_Type, &PyList_Type,
                             &PyList_Type, &PyList_Type, &PyDict_Type, &PyDict_Type};
    PyObject **slots[] = {&g->index, &g->ids, &g->kinds, &g->records,
                          &g->out, &g->inc, &g->edges, &g->columns};
    for (int i = 0; i < 8; i++) {
        if (Py_TYPE(args[i]) != types[i]) {
            PyErr_Format(PyExc_TypeError, "apply: the graph's %s is not a %s", names[i],
                         types[i]->tp_name);
            return -1;
        }
        *slots[i] = args[i];
    }
    return 0;
}

/* -- apply: MemoryGraph.apply for a whole delta -------------------------------------------------- */

static PyObject *NODE_KINDS = NULL;   /* tuple: the NodeKind member of each node code */
static PyObject *EDGE_CODES = NULL;   /* tuple: (EdgeKind member, variant) of each edge code */
static PyObject *PREFIX_CODES = NULL; /* dict: "dataset" -> its node code, ... */
static PyObject *WINS = NULL;         /* merge.wins: the tie-break of two values of one stamp */
static PyObject *KIND_OF = NULL;      /* codes.kind_of_id: raises for an id of no known kind */

static PyObject *new_record(PyObject *time, PyObject *stamp, PyObject *run, PyObject *props,
                            int none_if_empty) {
    /* [time, stamp, run, dict(props), dict.fromkeys(props, stamp)] (None, None if asked and
       props is empty) */
    PyObject *values, *stamps;
    if (none_if_empty && PyDict_GET_SIZE(props) == 0) {
        values = Py_None;
        stamps = Py_None;
        Py_INCREF(values);
        Py_INCREF(stamps);
    } else {
        values = PyDict_Copy(props);
        stamps = PyDict_New();
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (values && stamps && PyDict_Next(props, &pos, &key, &value)) {
            if (PyDict_SetItem(stamps, key, stamp) < 0) {
                Py_CLEAR(stamps);
            }
        }
        if (!values || !stamps) {
            Py_XDECREF(values);
            Py_XDECREF(stamps);
            return NULL;
        }
    }
    PyObject *record = PyList_New(5);
    if (record == NULL) {
        Py_DECREF(values);
        Py_DECREF(stamps);
        return NULL;
    }
    Py_INCREF(time);
    Py_INCREF(stamp);
    Py_INCREF(run);
    PyList_SET_ITEM(record, 0, time);
    PyList_SET_ITEM(record, 1, stamp);
    PyList_SET_ITEM(record, 2, run);
    PyList_SET_ITEM(record, 3, values);
    PyList_SET_ITEM(record, 4, stamps);
    return record;
}

/* memory._merge: each property keeps the value with the latest stamp (ties: _wins). */
static int merge(PyObject *record, PyObject *props, PyObject *stamp) {
    PyObject *values = PyList_GET_ITEM(record, 3), *stamps = PyList_GET_ITEM(record, 4);
    if (values == Py_None) {
        values = PyDict_New();
        stamps = PyDict_New();
        if (!values || !stamps) {
            Py_XDECREF(values);
            Py_XDECREF(stamps);
            return -1;
        }
        PyList_SetItem(record, 3, values); /* steals */
        PyList_SetItem(record, 4, stamps);
    }
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(props, &pos, &key, &value)) {
        PyObject *seen = PyDict_GetItemWithError(stamps, key);
        int take;
        if (seen == NULL) {
            if (PyErr_Occurred()) {
                return -1;
            }
            take = 1;
        } else {
            take = PyObject_RichCompareBool(stamp, seen, Py_GT);
            if (take == 0) {
                int same = PyObject_RichCompareBool(stamp, seen, Py_EQ);
                if (same < 0) {
                    return -1;
                }
                if (same) {
                    PyObject *old = PyDict_GetItemWithError(values, key);
                    if (old == NULL && PyErr_Occurred()) {
                        return -1;
                    }
                    PyObject *wins =
                        PyObject_CallFunctionObjArgs(WINS, value, old ? old : Py_None, NULL);
                    if (wins == NULL) {
                        return -1;
                    }
                    take = PyObject_IsTrue(wins);
                    Py_DECREF(wins);
                }
            }
        }
        if (take < 0) {
            return -1;
        }
        if (take && (PyDict_SetItem(values, key, value) < 0 || PyDict_SetItem(stamps, key, stamp) < 0)) {
            return -1;
        }
    }
    return 0;
}

static long node_code(PyObject *kind) {
    /* the code of a NodeKind member (members are singletons: compared by identity) */
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(NODE_KINDS); i++) {
        if (PyTuple_GET_ITEM(NODE_KINDS, i) == kind) {
            return (long)i;
        }
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(NODE_KINDS); i++) { /* an equal value, as a dict */
        int same = PyObject_RichCompareBool(PyTuple_GET_ITEM(NODE_KINDS, i), kind, Py_EQ);
        if (same != 0) {
            return same < 0 ? -1 : (long)i;
        }
    }
    PyErr_SetObject(PyExc_KeyError, kind);
    return -1;
}

static long prefix_code(PyObject *node_id) {
    /* the node code its id's prefix names ("dataset:..." -> dataset), as codes.kind_of_id */
    Py_ssize_t colon =
        PyUnicode_FindChar(node_id, ID_SEPARATOR_CHAR, 0, PyUnicode_GET_LENGTH(node_id), 1);
    PyObject *prefix = NULL, *code = NULL;
    if (colon >= 0) {
        prefix = PyUnicode_Substring(node_id, 0, colon);
        code = prefix ? PyDict_GetItemWithError(PREFIX_CODES, prefix) : NULL;
        Py_XDECREF(prefix);
        if (code != NULL) {
            return PyLong_AsLong(code);
        }
    }
    if (colon != -2 && !PyErr_Occurred()) { /* not a kind: let Python raise what it raises */
        PyObject *kind = PyObject_CallOneArg(KIND_OF, node_id);
        if (kind != NULL) {
            long found = node_code(kind);
            Py_DECREF(kind);
            return found;
        }
    }
    return -1;
}

static long edge_code(PyObject *kind, PyObject *variant) {
    for (int exact = 1; exact >= 0; exact--) { /* the member itself first, then an equal value */
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(EDGE_CODES); i++) {
            PyObject *pair = PyTuple_GET_ITEM(EDGE_CODES, i);
            int kind_is = exact ? PyTuple_GET_ITEM(pair, 0) == kind
                                : PyObject_RichCompareBool(PyTuple_GET_ITEM(pair, 0), kind, Py_EQ);
            int same = kind_is > 0 ? PyObject_RichCompareBool(PyTuple_GET_ITEM(pair, 1), variant,
                                                               Py_EQ)
                                   : kind_is;
            if (same != 0) {
                return same < 0 ? -1 : (long)i;
            }
        }
    }
    PyObject *key = PyTuple_Pack(2, kind, variant);
    if (key != NULL) {
        PyErr_SetObject(PyExc_KeyError, key);
        Py_DECREF(key);
    }
    return -1;
}

static PyObject *get_dict(PyObject *obj, PyObject *name) {
    /* a new reference to obj.name, which must be a dict */
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value != NULL && !PyDict_Check(value)) {
        PyErr_Format(PyExc_TypeError, "apply: .%U is not a dict", name);
        Py_CLEAR(value);
    }
    return value;
}

static int apply_node(Graph *g, PyObject *node, PyObject *time, PyObject *stamp, PyObject *run) {
    PyObject *id = PyObject_GetAttr(node, NODE_ID), *kind = PyObject_GetAttr(node, NODE_KIND),
             *props = get_dict(node, NODE_PROPS);
    int rc = -1;
    if (!id || !kind || !props) {
        goto done;
    }
    if (!PyUnicode_Check(id)) {
        PyErr_SetString(PyExc_TypeError, "apply: a node id is not a str");
        goto done;
    }
    Py_ssize_t idx = lookup(g, id);
    if (idx == -1) {
        long code = node_code(kind);
        if (code >= 0) {
            idx = new_node(g, id, code, new_record(time, stamp, run, props, 0));
        }
        rc = idx < 0 ? -1 : 0;
        goto done;
    }
    if (idx < 0) {
        goto done;
    }
    PyObject *record = PyList_GET_ITEM(g->records, idx);
    if (record == Py_None) { /* a column first known from column facts */
        PyObject *empty = PyDict_New();
        record = empty ? new_record(time, stamp, run, empty, 0) : NULL;
        Py_XDECREF(empty);
        if (record == NULL) {
            goto done;
        }
        PyList_SetItem(g->records, idx, record); /* steals; the list keeps it alive */
    }
    if (!PyList_Check(record) || PyList_GET_SIZE(record) != 5) {
        PyErr_SetString(PyExc_TypeError, "apply: a node record is not a list of 5");
        goto done;
    }
    if (touch(record, time, stamp, run) < 0 ||
        (PyDict_GET_SIZE(props) > 0 && merge(record, props, stamp) < 0)) {
        goto done;
    }
    rc = 0;
done:
    Py_XDECREF(id);
    Py_XDECREF(kind);
    Py_XDECREF(props);
    return rc;
}

static Py_ssize_t endpoint(Graph *g, PyObject *node_id, PyObject *time, PyObject *stamp,
                           PyObject *run) {
    /* an edge's end: its index, the node made (with an empty record) if it is new */
    if (!PyUnicode_Check(node_id)) {
        PyErr_SetString(PyExc_TypeError, "apply: an edge end is not a str");
        return -1;
    }
    Py_ssize_t idx = lookup(g, node_id);
    if (idx != -1) {
        return idx < 0 ? -1 : idx;
    }
    long code = prefix_code(node_id);
    if (code < 0) {
        return -1;
    }
    PyObject *empty = PyDict_New();
    PyObject *record = empty ? new_record(time, stamp, run, empty, 0) : NULL;
    Py_XDECREF(empty);
    return new_node(g, node_id, code, record);
}

static int apply_edge(Graph *g, PyObject *edge, PyObject *time, PyObject *stamp, PyObject *run) {
    PyObject *src_id = PyObject_GetAttr(edge, EDGE_SRC), *dst_id = PyObject_GetAttr(edge, EDGE_DST),
             *kind = PyObject_GetAttr(edge, EDGE_KIND),
             *variant = PyObject_GetAttr(edge, EDGE_VARIANT), *props = get_dict(edge, EDGE_PROPS),
             *key = NULL;
    int rc = -1;
    if (!src_id || !dst_id || !kind || !variant || !props) {
        goto done;
    }
    Py_ssize_t src = endpoint(g, src_id, time, stamp, run);
    Py_ssize_t dst = src < 0 ? -1 : endpoint(g, dst_id, time, stamp, run);
    long code = dst < 0 ? -1 : edge_code(kind, variant);
    if (code < 0 || !(key = edge_key(src, dst, code))) {
        goto done;
    }
    PyObject *found = PyDict_GetItemWithError(g->edges, key);
    if (found == NULL && PyErr_Occurred()) {
        goto done;
    }
    if (found == NULL || found == Py_None) { /* new (or derived, which Python also overwrites) */
        PyObject *record = new_record(time, stamp, run, props, 1);
        int set = record ? PyDict_SetItem(g->edges, key, record) : -1;
        Py_XDECREF(record);
        if (set < 0 || append_adjacency(g->out, src, dst, code) < 0 ||
            append_adjacency(g->inc, dst, src, code) < 0) {
            goto done;
        }
    } else if (!PyList_Check(found) || PyList_GET_SIZE(found) != 5) {
        PyErr_SetString(PyExc_TypeError, "apply: an edge record is not a list of 5");
        goto done;
    } else if (touch(found, time, stamp, run) < 0 ||
               (PyDict_GET_SIZE(props) > 0 && merge(found, props, stamp) < 0)) {
        goto done;
    }
    rc = 0;
done:
    Py_XDECREF(src_id);
    Py_XDECREF(dst_id);
    Py_XDECREF(kind);
    Py_XDECREF(variant);
    Py_XDECREF(props);
    Py_XDECREF(key);
    return rc;
}

static PyObject *apply(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError,
                        "apply(index, ids, kinds, records, out, inc, edges, columns, delta)");
        return NULL;
    }
    Graph g;
    if (!ready()) {
        return NULL;
    }
    if (graph_parts(args, &g) < 0) {
        return NULL;
    }
    PyObject *delta = args[8], *result = NULL, *time = NULL;
    PyObject *stamp = PyObject_GetAttr(delta, DELTA_STAMP), *run = PyObject_GetAttr(delta, DELTA_RUN),
             *nodes = PyObject_GetAttr(delta, DELTA_NODES),
             *edges = PyObject_GetAttr(delta, DELTA_EDGES),
             *columns = PyObject_GetAttr(delta, DELTA_COLUMNS);
    if (!stamp || !run || !nodes || !edges || !columns) {
        goto done;
    }
    if (!PyUnicode_Check(stamp) || !(run == Py_None || PyUnicode_Check(run)) ||
        !PyList_Check(nodes) || !PyList_Check(edges) || !PyList_Check(columns)) {
        PyErr_SetString(PyExc_TypeError, "apply: a malformed GraphDelta");
        goto done;
    }
    /* the stamp is "<time>|<rank>" (merge.time_of) */
    Py_ssize_t bar =
        PyUnicode_FindChar(stamp, STAMP_SEPARATOR_CHAR, 0, PyUnicode_GET_LENGTH(stamp), 1);
    if (bar == -2 || !(time = bar < 0 ? (Py_INCREF(stamp), stamp) : PyUnicode_Substring(stamp, 0, bar))) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(nodes); i++) {
        if (apply_node(&g, PyList_GET_ITEM(nodes, i), time, stamp, run) < 0) {
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(edges); i++) {
        if (apply_edge(&g, PyList_GET_ITEM(edges, i), time, stamp, run) < 0) {
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(columns); i++) {
        if (apply_facts(&g, PyList_GET_ITEM(columns, i), time, stamp, run) < 0) {
            goto done;
        }
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    Py_XDECREF(stamp);
    Py_XDECREF(run);
    Py_XDECREF(nodes);
    Py_XDECREF(edges);
    Py_XDECREF(columns);
    Py_XDECREF(time);
    return result;
}

/* -- lineage: a columnLineage facet's JSON to LineageEntry tuples ------------------------------ */

/* A cursor over JSON that msgspec has already checked; anything this reader does not expect
   makes it decline (return 0 without an exception), never guess. */
typedef struct {
    const char *p, *end;
} Cursor;

typedef struct {
    const char *start;
    Py_ssize_t len;
    int escaped;
} Span; /* a JSON string's contents, quotes excluded */

static void ws(Cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t')) {
        c->p++;
    }
}

static int eat(Cursor *c, char ch) {
    ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

static int peek(Cursor *c, char ch) {
    ws(c);
    return c->p < c->end && *c->p == ch;
}

/* Where the string starting at p ends (its closing quote), and whether it holds an escape;
   NULL if it does not end before `end`. Sixteen bytes at a time where SSE2 is there. */
static const char *string_end(const char *p, const char *end, int *escaped) {
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
    while (end - p >= 16) {
        __m128i chunk = _mm_loadu_si128((const __m128i *)p);
        int quotes = _mm_movemask_epi8(_mm_cmpeq_epi8(chunk, quote));
        int slashes = _mm_movemask_epi8(_mm_cmpeq_epi8(chunk, backslash));
        if (slashes != 0 && (quotes == 0 || __builtin_ctz(slashes) < __builtin_ctz(quotes))) {
            break; /* an escape comes first: the byte loop below handles it */
        }
        if (quotes != 0) {
            return p + __builtin_ctz(quotes);
        }
        p += 16;
    }
#endif
    while (p < end && *p != '"') {
        if (*p == '\\') {
            *escaped = 1;
            p++;
        }
        p++;
    }
    return p < end ? p : NULL;
}

static int string(Cursor *c, Span *s) {
    if (!eat(c, '"')) {
        return 0;
    }
    s->start = c->p;
    s->escaped = 0;
    const char *quote = string_end(c->p, c->end, &s->escaped);
    if (quote == NULL) {
        return 0;
    }
    s->len = quote - s->start;
    c->p = quote + 1;
    return 1;
}

/* An object's key and its colon. A key written with escapes declines: msgspec reads
   "fi\u0065lds" as "fields", and comparing raw text would take it for another key. */
static int object_key(Cursor *c, Span *key) {
    return string(c, key) && !key->escaped && eat(c, ':');
}

static int literal(Cursor *c, const char *word) {
    ws(c);
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, word, n) == 0) {
        c->p += n;
        return 1;
    }
    return 0;
}

static int skip(Cursor *c, int depth) {
    /* past any one JSON value */
    Span s;
    ws(c);
    if (c->p >= c->end || depth > 64) {
        return 0;
    }
    char ch = *c->p;
    if (ch == '"') {
        return string(c, &s);
    }
    if (ch == '{' || ch == '[') {
        char close = ch == '{' ? '}' : ']';
        c->p++;
        if (eat(c, close)) {
            return 1;
        }
        do {
            if (ch == '{' && !(string(c, &s) && eat(c, ':'))) {
                return 0;
            }
            if (!skip(c, depth + 1)) {
                return 0;
            }
        } while (eat(c, ','));
        return eat(c, close);
    }
    const char *start = c->p;
    while (c->p < c->end && strchr(",}] \n\r\t", *c->p) == NULL) {
        c->p++;
    }
    return c->p > start;
}

/* Whether n bytes at a and b are equal: keys are short, so a word or two of each (overlapping,
   never past the n bytes) rather than a call to memcmp. */
static inline int same_bytes(const char *a, const char *b, Py_ssize_t n) {
    if (n >= 8) {
        uint64_t x, y, u, v;
        if (n > 16) {
            return memcmp(a, b, n) == 0;
        }
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        memcpy(&u, a + n - 8, 8);
        memcpy(&v, b + n - 8, 8);
        return x == y && u == v;
    }
    if (n >= 4) {
        uint32_t x, y, u, v;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        memcpy(&u, a + n - 4, 4);
        memcpy(&v, b + n - 4, 4);
        return x == y && u == v;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            return 0;
        }
    }
    return 1;
}

static inline int is_key(const Span *s, const Name *key) {
    /* the span is that key, written without escapes */
    return !s->escaped && s->len == key->len && same_bytes(s->start, key->utf8, s->len);
}

#define is(span, id) is_key(span, NAME(id)) /* id: a key setup() took (K_...) */

static PyObject *text(const Span *s) {
    /* a str for an unescaped span; NULL without an exception declines (escapes, or text that
       is not UTF-8, which msgspec would have refused anyway) */
    if (s->escaped) {
        return NULL;
    }
    PyObject *value = PyUnicode_DecodeUTF8(s->start, s->len, NULL);
    if (value == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
    }
    return value;
}

/* A string or null (an optional text): 1 = read, 0 = decline. */
static int optional_text(Cursor *c, PyObject **out) {
    if (literal(c, "null")) {
        Py_INCREF(Py_None);
        *out = Py_None;
        return 1;
    }
    Span s;
    return string(c, &s) && (*out = text(&s)) != NULL;
}

typedef struct {
    Span a, b;       /* the raw text it was made of */
    PyObject *value; /* borrowed from Target.ids */
} Remembered;

enum { REMEMBERED = 8 };

typedef struct {
    PyObject *dataset, *dst; /* the entry's first and third fields, borrowed */
    PyObject *column;        /* its second, owned while its entries are added */
    PyObject *entries;       /* list being filled */
    PyObject *ids;           /* dict: text -> one str, shared by the entries */
    /* A facet cites a few datasets and a few subtypes many times: the last ones made are
       found again by their raw text, without making a str to look them up. */
    Remembered datasets[REMEMBERED], texts[REMEMBERED];
    int next_dataset, next_text;
} Target;

static int same_span(const Span *x, const Span *y) {
    return x->len == y->len && memcmp(x->start, y->start, x->len) == 0;
}

static PyObject *remembered(Remembered *slots, const Span *a, const Span *b) {
    for (int i = 0; i < REMEMBERED; i++) {
        if (slots[i].value != NULL && same_span(&slots[i].a, a) &&
            (b == NULL || same_span(&slots[i].b, b))) {
            return slots[i].value;
        }
    }
    return NULL;
}

static void remember(Remembered *slots, int *next, const Span *a, const Span *b, PyObject *value) {
    Remembered *slot = &slots[*next];
    *next = (*next + 1) % REMEMBERED;
    slot->a = *a;
    if (b != NULL) {
        slot->b = *b;
    }
    slot->value = value;
}

static PyObject *shared(PyObject *ids, PyObject *fresh) {
    /* one str object for equal ids across a facet; steals `fresh`, returns borrowed */
    if (fresh == NULL) {
        return NULL;
    }
    PyObject *known = PyDict_SetDefault(ids, fresh, fresh);
    Py_DECREF(fresh);
    return known;
}

static int add_entry(Target *t, PyObject *kind, PyObject *subtype, PyObject *description,
                     int masking) {
    PyObject *entry = PyType_GenericAlloc(LINEAGE_ENTRY, 7);
    if (entry == NULL) {
        return -1;
    }
    PyObject *items[7] = {t->dataset, t->column, t->dst, kind, subtype, description,
                          masking ? Py_True : Py_False};
    for (int i = 0; i < 7; i++) {
        Py_INCREF(items[i]);
        PyTuple_SET_ITEM(entry, i, items[i]);
    }
    int rc = PyList_Append(t->entries, entry);
    Py_DECREF(entry);
    return rc;
}

/* optional_text, with the str shared across the facet: a new reference. */
static int shared_text(Cursor *c, Target *t, PyObject **out) {
    if (literal(c, "null")) {
        *out = Py_NewRef(Py_None);
        return 1;
    }
    Span s;
    if (!string(c, &s) || s.escaped) {
        return 0;
    }
    PyObject *known = remembered(t->texts, &s, NULL);
    if (known == NULL) {
        PyObject *fresh = text(&s);
        known = fresh ? shared(t->ids, fresh) : NULL;
        if (known == NULL) {
            return 0; /* declined (not UTF-8) or an error: the caller tells them apart */
        }
        remember(t->texts, &t->next_text, &s, NULL, known);
    }
    *out = Py_NewRef(known);
    return 1;
}

/* Whether the span, upper-cased in ASCII, is `word` (non-ASCII text never is: Python's upper()
   maps a few letters of other scripts to ASCII, so such text declines). */
static int upper_is(const char *p, Py_ssize_t n, const Name *word) {
    if (n != word->len) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        char ch = p[i];
        if ((ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch) != word->utf8[i]) {
            return 0;
        }
    }
    return 1;
}

/* The direct or indirect type, whatever the case, as `type.upper()` would match; NULL otherwise. */
static PyObject *transformation_type(const Span *type) {
    if (type->start == NULL || type->escaped) {
        return NULL;
    }
    return upper_is(type->start, type->len, NAME(DIRECT_TYPE))     ? S(DIRECT_TYPE)
           : upper_is(type->start, type->len, NAME(INDIRECT_TYPE)) ? S(INDIRECT_TYPE)
                                                                   : NULL;
}

/* One transformation: {"type": Name, "subtype"?, "description"?, "masking"?}. */
static int transformation(Cursor *c, Target *t) {
    Span type = {NULL, 0, 0};
    PyObject *subtype = NULL, *description = NULL;
    int masking = -1, ok = eat(c, '{') && !peek(c, '}');
    while (ok) {
        Span key;
        ok = object_key(c, &key);
        if (!ok) {
            break;
        }
        if (is(&key, K_TYPE)) {
            ok = type.start == NULL && string(c, &type);
        } else if (is(&key, K_SUBTYPE)) {
            ok = subtype == NULL && shared_text(c, t, &subtype);
        } else if (is(&key, K_DESCRIPTION)) {
            ok = description == NULL && shared_text(c, t, &description);
        } else if (is(&key, K_MASKING)) {
            ok = masking == -1;
            if (ok) {
                masking = literal(c, "true")                                 ? 1
                          : (literal(c, "false") || literal(c, "null")) ? 0
                                                                             : -2;
                ok = masking >= 0;
            }
        } else {
            ok = skip(c, 0);
        }
        if (!ok || !eat(c, ',')) {
            break;
        }
    }
    PyObject *kind = ok && eat(c, '}') ? transformation_type(&type) : NULL;
    int rc = PyErr_Occurred() ? -1 : 0;
    if (kind != NULL && rc == 0) {
        rc = add_entry(t, kind, subtype ? subtype : Py_None, description ? description : Py_None,
                       masking == 1) < 0
                 ? -1
                 : 1;
    }
    Py_XDECREF(subtype);
    Py_XDECREF(description);
    return rc;
}

/* "<prefix><a>:<b>[:<c>]" from the raw spans, as one str; NULL without an exception declines
   (text that is not UTF-8, which msgspec would have refused anyway). */
static PyObject *node_id(const Name *prefix, const Span *a, const Span *b, const Span *c) {
    const Name *sep = NAME(ID_SEPARATOR);
    size_t n = prefix->len + a->len + sep->len + b->len + (c ? sep->len + c->len : 0);
    char small[512], *buf = n <= sizeof small ? small : PyMem_Malloc(n);
    if (buf == NULL) {
        return PyErr_NoMemory();
    }
    char *w = buf;
    memcpy(w, prefix->utf8, prefix->len);
    w += prefix->len;
    memcpy(w, a->start, a->len);
    w += a->len;
    memcpy(w, sep->utf8, sep->len);
    w += sep->len;
    memcpy(w, b->start, b->len);
    w += b->len;
    if (c != NULL) {
        memcpy(w, sep->utf8, sep->len);
        w += sep->len;
        memcpy(w, c->start, c->len);
    }
    PyObject *id = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)n, NULL);
    if (buf != small) {
        PyMem_Free(buf);
    }
    if (id == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
    }
    return id;
}

/* The dataset and column ids of an input field (t->dataset borrowed, t->column owned). */
static int field_ids(Target *t, const Span *ns, const Span *name, const Span *field) {
    t->dataset = remembered(t->datasets, ns, name);
    /* an escaped id (model.pair_body, model.field_part) is Python's to build: decline */
    if ((unsigned char)field->start[0] == ESCAPED_CHAR ||
        memchr(field->start, (char)ID_SEPARATOR_CHAR, (size_t)field->len) != NULL ||
        (t->dataset == NULL && ((unsigned char)ns->start[0] == ESCAPED_CHAR ||
                                !reads_back(ns->start, ns->len, name->start, name->len)))) {
        t->column = NULL;
        return 0;
    }
    if (t->dataset == NULL) {
        PyObject *dataset = node_id(NAME(DATASET_PREFIX), ns, name, NULL);
        t->dataset = dataset ? shared(t->ids, dataset) : NULL;
        if (t->dataset != NULL) {
            remember(t->datasets, &t->next_dataset, ns, name, t->dataset);
        }
    }
    t->column = t->dataset ? node_id(NAME(COLUMN_PREFIX), ns, name, field) : NULL;
    return t->column != NULL ? 1 : PyErr_Occurred() ? -1 : 0;
}

/* An input field's transformations (a list, or null), one entry each; none: one entry of the
   default kind. 1 = read, 0 = decline, -1 = error. */
static int transformations(Cursor *c, Target *t, PyObject *default_kind) {
    if (literal(c, "null")) {
        return add_entry(t, default_kind, Py_None, Py_None, 0) < 0 ? -1 : 1;
    }
    if (!eat(c, '[')) {
        return 0;
    }
    if (eat(c, ']')) {
        return add_entry(t, default_kind, Py_None, Py_None, 0) < 0 ? -1 : 1;
    }
    int rc;
    do {
        rc = transformation(c, t);
    } while (rc == 1 && eat(c, ','));
    return rc == 1 && !eat(c, ']') ? 0 : rc;
}

/* One input field: {"namespace", "name", "field": Name, "transformations"?: [..] | null}. */
static int input_field(Cursor *c, Target *t, PyObject *default_kind) {
    Span ns = {NULL, 0, 0}, name = {NULL, 0, 0}, field = {NULL, 0, 0};
    const char *later = NULL; /* transformations given before the ids: read once they are known */
    int ok = eat(c, '{') && !peek(c, '}'), read = 0, rc = 1;
    while (ok) {
        Span key;
        ok = object_key(c, &key);
        if (!ok) {
            break;
        }
        Span *slot = is(&key, K_NAMESPACE) ? &ns
                     : is(&key, K_NAME)    ? &name
                     : is(&key, K_FIELD)   ? &field
                                           : NULL;
        if (slot != NULL) { /* a Name: a non-empty string without escapes, given once */
            ok = slot->start == NULL && string(c, slot) && slot->len > 0 && !slot->escaped;
        } else if (is(&key, K_TRANSFORMATIONS)) {
            ok = !read && later == NULL;
            if (ok && ns.start && name.start && field.start) { /* the usual order: read it now */
                rc = field_ids(t, &ns, &name, &field);
                if (rc == 1) {
                    rc = transformations(c, t, default_kind);
                }
                ok = rc == 1;
                read = 1;
            } else if (ok) {
                ws(c);
                later = c->p;
                ok = skip(c, 0);
            }
        } else {
            ok = skip(c, 0);
        }
        if (!ok || !eat(c, ',')) {
            break;
        }
    }
    if (rc == 1 && !(ok && eat(c, '}') && ns.start && name.start && field.start)) {
        rc = 0;
    }
    if (rc == 1 && !read) {
        rc = field_ids(t, &ns, &name, &field);
        if (rc == 1 && later == NULL) {
            rc = add_entry(t, default_kind, Py_None, Py_None, 0) < 0 ? -1 : 1;
        } else if (rc == 1) {
            Cursor list = {later, c->end};
            rc = transformations(&list, t, default_kind);
        }
    }
    Py_CLEAR(t->column);
    return rc;
}

static int input_list(Cursor *c, Target *t, PyObject *default_kind) {
    if (!eat(c, '[')) {
        return 0;
    }
    if (eat(c, ']')) {
        return 1;
    }
    int rc;
    do {
        rc = input_field(c, t, default_kind);
    } while (rc == 1 && eat(c, ','));
    return rc == 1 ? eat(c, ']') : rc;
}

/* One output field's lineage: {"inputFields": [...]}; the legacy keys decline. */
static int field_lineage(Cursor *c, Target *t) {
    int ok = eat(c, '{') && !peek(c, '}'), inputs = 0, rc = 1;
    while (ok) {
        Span key;
        ok = object_key(c, &key);
        if (!ok) {
            break;
        }
        if (is(&key, K_INPUT_FIELDS)) {
            ok = !inputs;
            inputs = 1;
            if (ok) {
                rc = input_list(c, t, S(DIRECT_TYPE));
                ok = rc == 1;
            }
        } else if (is(&key, K_TRANSFORMATION_TYPE) || is(&key, K_TRANSFORMATION_DESCRIPTION)) {
            ok = literal(c, "null"); /* the legacy form: Python reads it */
        } else {
            ok = skip(c, 0);
        }
        if (!ok || !eat(c, ',')) {
            break;
        }
    }
    if (rc < 0) {
        return -1;
    }
    return ok && inputs && eat(c, '}');
}

static PyObject *lineage(PyObject *module, PyObject *raw) {
    (void)module;
    if (!ready()) {
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(raw, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    Cursor c = {view.buf, (const char *)view.buf + view.len};
    /* per output field first, then the dataset-level inputs, wherever "dataset" appears */
    PyObject *direct = PyList_New(0), *indirect = PyList_New(0), *fields = PyList_New(0),
             *named = PySet_New(NULL);
    Target t = {.ids = PyDict_New()};
    PyObject *result = NULL;
    int rc = direct && indirect && fields && named && t.ids ? 1 : -1, seen_fields = 0, seen_dataset = 0;
    if (rc == 1 && !(eat(&c, '{') && !peek(&c, '}'))) {
        rc = 0;
    }
    while (rc == 1) {
        Span key;
        if (!object_key(&c, &key)) {
            rc = 0;
            break;
        }
        if (is(&key, K_FIELDS)) {
            rc = !seen_fields && eat(&c, '{');
            seen_fields = 1;
            t.entries = direct;
            if (rc == 1 && !eat(&c, '}')) {
                do {
                    Span out;
                    PyObject *dst;
                    if (!(string(&c, &out) && eat(&c, ':')) || !(dst = text(&out))) {
                        rc = PyErr_Occurred() ? -1 : 0;
                        break;
                    }
                    /* an output field named twice: the Python parser decides what it means */
                    t.dst = shared(t.ids, dst);
                    int again = t.dst == NULL ? -1 : PySet_Contains(named, t.dst);
                    rc = again < 0                             ? -1
                         : again                                ? 0
                         : PyList_Append(fields, t.dst) < 0 ||
                                 PySet_Add(named, t.dst) < 0 ? -1
                                                             : 1;
                    if (rc == 1) {
                        rc = field_lineage(&c, &t);
                    }
                } while (rc == 1 && eat(&c, ','));
                rc = rc == 1 ? eat(&c, '}') : rc;
            }
        } else if (is(&key, K_DATASET)) {
            rc = !seen_dataset;
            seen_dataset = 1;
            if (rc == 1 && !literal(&c, "null")) {
                t.dst = Py_None;
                t.entries = indirect;
                rc = input_list(&c, &t, S(INDIRECT_TYPE));
            }
        } else {
            rc = skip(&c, 0);
        }
        if (rc != 1 || !eat(&c, ',')) {
            break;
        }
    }
    if (rc == 1 && !(eat(&c, '}') && seen_fields)) {
        rc = 0;
    }
    if (rc == 1) {
        PyObject *entries = PySequence_Concat(direct, indirect);
        PyObject *all = entries ? PyList_AsTuple(entries) : NULL;
        PyObject *names = all ? PyList_AsTuple(fields) : NULL;
        if (names) {
            result = PyTuple_Pack(2, all, names);
        }
        Py_XDECREF(entries);
        Py_XDECREF(all);
        Py_XDECREF(names);
    } else if (rc == 0 && !PyErr_Occurred()) {
        Py_INCREF(Py_None);
        result = Py_None;
    }
    Py_XDECREF(direct);
    Py_XDECREF(indirect);
    Py_XDECREF(fields);
    Py_XDECREF(named);
    Py_XDECREF(t.ids);
    PyBuffer_Release(&view);
    return result;
}

/* -- schema: a schema facet's JSON to its flattened (name, type, description) fields ----------- */

static PyObject *interned_text(const Span *s) {
    PyObject *value = text(s);
    if (value != NULL) {
        PyUnicode_InternInPlace(&value);
    }
    return value;
}

/* The fields of one level, appended to `out` as (prefix + name, type, description); nested
   fields follow their parent as "parent.child". 1 = read, 0 = decline, -1 = error. */
static int schema_fields(Cursor *c, PyObject *prefix, PyObject *out, int depth) {
    if (depth > 32) {
        return 0;
    }
    if (literal(c, "null")) {
        return 1;
    }
    if (!eat(c, '[')) {
        return 0;
    }
    if (eat(c, ']')) {
        return 1;
    }
    do {
        Span name = {NULL, 0, 0};
        PyObject *type = NULL, *description = NULL;
        const char *nested = NULL;
        int ok = eat(c, '{') && !peek(c, '}');
        while (ok) {
            Span key;
            ok = object_key(c, &key);
            if (!ok) {
                break;
            }
            if (is(&key, K_NAME)) {
                ok = name.start == NULL && string(c, &name) && name.len > 0 && !name.escaped;
            } else if (is(&key, K_TYPE)) {
                ok = type == NULL && optional_text(c, &type);
            } else if (is(&key, K_DESCRIPTION)) {
                ok = description == NULL && optional_text(c, &description);
            } else if (is(&key, K_FIELDS)) {
                ok = nested == NULL;
                if (ok) {
                    ws(c);
                    nested = c->p;
                    ok = skip(c, 0);
                }
            } else {
                ok = skip(c, 0);
            }
            if (!ok || !eat(c, ',')) {
                break;
            }
        }
        ok = ok && eat(c, '}') && name.start != NULL;
        PyObject *full = NULL, *item = NULL;
        int rc = PyErr_Occurred() ? -1 : ok;
        if (rc == 1) {
            PyObject *bare = interned_text(&name);
            if (bare != NULL && prefix != NULL) {
                full = PyUnicode_Concat(prefix, bare);
                Py_DECREF(bare);
                if (full != NULL) {
                    PyUnicode_InternInPlace(&full);
                }
            } else {
                full = bare;
            }
            if (type != NULL && type != Py_None) {
                PyUnicode_InternInPlace(&type);
            }
            item = full ? PyTuple_Pack(3, full, type ? type : Py_None,
                                       description ? description : Py_None)
                        : NULL;
            rc = item == NULL                     ? (PyErr_Occurred() ? -1 : 0)
                 : PyList_Append(out, item) < 0 ? -1
                                                  : 1;
        }
        if (rc == 1 && nested != NULL) {
            PyObject *child_prefix = join((PyObject *[]){full, S(FIELD_PATH_SEPARATOR)}, 2);
            Cursor inner = {nested, c->end};
            rc = child_prefix == NULL ? -1 : schema_fields(&inner, child_prefix, out, depth + 1);
            Py_XDECREF(child_prefix);
        }
        Py_XDECREF(type);
        Py_XDECREF(description);
        Py_XDECREF(full);
        Py_XDECREF(item);
        if (rc != 1) {
            return rc;
        }
    } while (eat(c, ','));
    return eat(c, ']');
}

static PyObject *schema(PyObject *module, PyObject *raw) {
    (void)module;
    if (!ready()) {
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(raw, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    Cursor c = {view.buf, (const char *)view.buf + view.len};
    PyObject *out = PyList_New(0), *result = NULL;
    int rc = out == NULL ? -1 : (eat(&c, '{') ? 1 : 0), seen = 0;
    if (rc == 1 && !eat(&c, '}')) {
        do {
            Span key;
            if (!object_key(&c, &key)) {
                rc = 0;
            } else if (is(&key, K_FIELDS)) {
                rc = seen ? 0 : schema_fields(&c, NULL, out, 0);
                seen = 1;
            } else {
                rc = skip(&c, 0);
            }
        } while (rc == 1 && eat(&c, ','));
        if (rc == 1 && !eat(&c, '}')) {
            rc = 0;
        }
    }
    if (rc == 1) {
        result = PyList_AsTuple(out);
    } else if (rc == 0 && !PyErr_Occurred()) {
        Py_INCREF(Py_None);
        result = Py_None;
    }
    Py_XDECREF(out);
    PyBuffer_Release(&view);
    return result;
}

/* -- facet values: schema and lineage facets to Schema and Lineage, through the parser's memo --- */

static PyTypeObject *SCHEMA_TYPE = NULL; /* graph.delta.Schema (a named tuple), from setup() */

/* The parser's own helpers, which project() and project_many() take with each call (the `parser`
   argument, fastparse._PARSER: ingest/ is a layer above the graph that configures this module,
   so they are not held here). Borrowed for the call. */
typedef struct {
    PyObject *decode;           /* fastparse._EVENT.decode: an event's JSON -> its structs */
    PyObject *generic;          /* fastparse._GENERIC.decode: a facet's JSON -> its value */
    PyObject *schema;           /* fastparse._schema(raw, memo): a facet the readers decline */
    PyObject *lineage;          /* fastparse._lineage(raw, memo): likewise */
    PyObject *resolve;          /* projection._resolve(lineage, schema, known) */
    PyObject *digest;           /* columns.digest: bytes -> hex str */
    PyTypeObject *lineage_type; /* columns.Lineage (a named tuple) */
    PyObject *memo_get;         /* FacetMemo.get(memo, key) */
    PyObject *memo_put;         /* FacetMemo.put(memo, key, value) */
    PyObject *unset;            /* msgspec.UNSET */
    PyObject *declines;         /* the exceptions that mean "take the Python path" */
    PyObject *record_prefix;    /* the bytes a sync record starts with */
} Parser;

enum { PARSER_FIELDS = 12 };

static int parser_of(PyObject *given, Parser *h) {
    if (!PyTuple_Check(given) || PyTuple_GET_SIZE(given) != PARSER_FIELDS) {
        PyErr_SetString(PyExc_TypeError, "project: parser is a tuple of 12 (see _native.pyi)");
        return -1;
    }
    PyObject **items = &PyTuple_GET_ITEM(given, 0);
    PyObject *lineage_type = items[6];
    if (!PyType_Check(lineage_type) ||
        !PyType_IsSubtype((PyTypeObject *)lineage_type, &PyTuple_Type) ||
        !PyTuple_Check(items[10]) || !PyBytes_Check(items[11])) {
        PyErr_SetString(PyExc_TypeError,
                        "project: the parser's lineage type is a named tuple, its declines a "
                        "tuple, its record prefix bytes");
        return -1;
    }
    *h = (Parser){items[0], items[1], items[2], items[3], items[4], items[5],
                  (PyTypeObject *)lineage_type, items[7], items[8], items[9], items[10],
                  items[11]};
    return 0;
}

/* A growing byte buffer. */
typedef struct {
    char *data;
    Py_ssize_t len, cap;
} Buf;

static int put(Buf *b, const char *p, Py_ssize_t n) {
    if (b->len + n > b->cap) {
        Py_ssize_t cap = (b->len + n) * 2 + 256;
        char *grown = PyMem_Realloc(b->data, cap);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

/* A value as orjson.dumps writes it, for the str, None and bool values the readers produce. Their
   strings never need escaping (the readers decline escapes, and JSON text cannot hold a raw
   control character); a string that would is refused (0), and Python computes the value. */
static int put_json(Buf *b, PyObject *value) {
    if (value == Py_None) {
        return put(b, "null", 4) < 0 ? -1 : 1;
    }
    if (value == Py_True || value == Py_False) {
        return put(b, value == Py_True ? "true" : "false", value == Py_True ? 4 : 5) < 0 ? -1 : 1;
    }
    if (!PyUnicode_Check(value)) {
        return 0;
    }
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(value, &n);
    if (p == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch < 0x20 || ch == '"' || ch == '\\') {
            return 0;
        }
    }
    return put(b, "\"", 1) < 0 || put(b, p, n) < 0 || put(b, "\"", 1) < 0 ? -1 : 1;
}

/* A tuple of tuples of such values, as a JSON array of arrays. */
static int put_rows(Buf *b, PyObject *rows) {
    if (put(b, "[", 1) < 0) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(rows); i++) {
        PyObject *row = PyTuple_GET_ITEM(rows, i);
        if ((i > 0 && put(b, ",", 1) < 0) || put(b, "[", 1) < 0) {
            return -1;
        }
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(row); k++) {
            if (k > 0 && put(b, ",", 1) < 0) {
                return -1;
            }
            int rc = put_json(b, PyTuple_GET_ITEM(row, k));
            if (rc <= 0) {
                return rc;
            }
        }
        if (put(b, "]", 1) < 0) {
            return -1;
        }
    }
    return put(b, "]", 1) < 0 ? -1 : 1;
}

/* columns.digest of the buffer; NULL on error. */
static PyObject *digest_of(const Parser *h, Buf *b) {
    PyObject *data = PyBytes_FromStringAndSize(b->data, b->len);
    PyObject *digest = data ? PyObject_CallOneArg(h->digest, data) : NULL;
    Py_XDECREF(data);
    return digest;
}

static PyObject *named_tuple(PyTypeObject *type, PyObject **items, int n) {
    PyObject *value = PyType_GenericAlloc(type, n);
    if (value == NULL) {
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        PyTuple_SET_ITEM(value, i, Py_NewRef(items[i]));
    }
    return value;
}

/* columns.schema_value(fields) */
static PyObject *schema_value(const Parser *h, PyObject *fields) {
    Buf b = {NULL, 0, 0};
    int rc = put_rows(&b, fields);
    PyObject *value = NULL;
    if (rc == 1) {
        PyObject *digest = digest_of(h, &b);
        if (digest != NULL) {
            PyObject *items[2] = {fields, digest};
            value = named_tuple(SCHEMA_TYPE, items, 2);
            Py_DECREF(digest);
        }
    } else if (rc == 0) {
        value = Py_NewRef(Py_None);
    }
    PyMem_Free(b.data);
    return value;
}

/* columns.lineage_value(entries, fields) */
static PyObject *lineage_value(const Parser *h, PyObject *entries, PyObject *fields) {
    Buf b = {NULL, 0, 0};
    PyObject *value = NULL, *digest = NULL, *sources = NULL;
    int rc = put(&b, "[", 1) < 0 ? -1 : put_rows(&b, entries);
    if (rc == 1) {
        /* the fields, a flat array of str */
        rc = put(&b, ",[", 2) < 0 ? -1 : 1;
        for (Py_ssize_t i = 0; rc == 1 && i < PyTuple_GET_SIZE(fields); i++) {
            rc = i > 0 && put(&b, ",", 1) < 0 ? -1 : put_json(&b, PyTuple_GET_ITEM(fields, i));
        }
        if (rc == 1) {
            rc = put(&b, "]]", 2) < 0 ? -1 : 1;
        }
    }
    int wide = 0;
    if (rc == 1 && (digest = digest_of(h, &b)) != NULL &&
        (sources = PyFrozenSet_New(NULL)) != NULL) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(entries); i++) {
            PyObject *entry = PyTuple_GET_ITEM(entries, i);
            wide |= PyTuple_GET_ITEM(entry, 2) == Py_None;
            if (PySet_Add(sources, PyTuple_GET_ITEM(entry, 0)) < 0) {
                Py_CLEAR(sources);
                break;
            }
        }
        if (sources != NULL) {
            PyObject *items[5] = {entries, fields, digest, sources, wide ? Py_True : Py_False};
            value = named_tuple(h->lineage_type, items, 5);
        }
    } else if (rc == 0) {
        value = Py_NewRef(Py_None);
    }
    Py_XDECREF(digest);
    Py_XDECREF(sources);
    PyMem_Free(b.data);
    return value;
}

/* The Schema or Lineage of a facet's raw JSON, as fastparse._schema and _lineage give it: from
   the memo when its exact bytes were seen (keyed by the tag, codes.SCHEMA_TAG or LINEAGE_TAG,
   then the bytes), else read here and remembered; what the readers decline goes to the parser's
   fallback(raw, memo) in Python. */
static PyObject *facet_value(const Parser *h, PyObject *raw, PyObject *memo, int is_schema) {
    Py_buffer view;
    if (PyObject_GetBuffer(raw, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    const Name *tag = is_schema ? NAME(SCHEMA_TAG) : NAME(LINEAGE_TAG);
    PyObject *key = PyBytes_FromStringAndSize(NULL, tag->len + view.len), *value = NULL;
    PyTypeObject *type = is_schema ? SCHEMA_TYPE : h->lineage_type;
    if (key != NULL) {
        memcpy(PyBytes_AS_STRING(key), tag->utf8, tag->len);
        memcpy(PyBytes_AS_STRING(key) + tag->len, view.buf, view.len);
    }
    if (key != NULL && memo != Py_None) {
        PyObject *found = PyObject_CallFunctionObjArgs(h->memo_get, memo, key, NULL);
        if (found != NULL && Py_TYPE(found) == type) {
            value = found;
        } else {
            Py_XDECREF(found);
        }
    }
    if (value == NULL && key != NULL && !PyErr_Occurred()) {
        PyObject *read = is_schema ? schema(NULL, raw) : lineage(NULL, raw);
        if (read != NULL && read != Py_None) {
            value = is_schema ? schema_value(h, read)
                              : lineage_value(h, PyTuple_GET_ITEM(read, 0),
                                              PyTuple_GET_ITEM(read, 1));
        }
        if (read == Py_None || value == Py_None) { /* declined: Python reads it (and remembers) */
            Py_CLEAR(value);
            value = PyObject_CallFunctionObjArgs(is_schema ? h->schema : h->lineage, raw, memo,
                                                 NULL);
        } else if (value != NULL && memo != Py_None) {
            PyObject *put = PyObject_CallFunctionObjArgs(h->memo_put, memo, key, value, NULL);
            if (put == NULL) {
                Py_CLEAR(value);
            }
            Py_XDECREF(put);
        }
        Py_XDECREF(read);
    }
    Py_XDECREF(key);
    PyBuffer_Release(&view);
    return value;
}

/* -- project: a decoded event's common shape straight to its GraphDelta ----------------------- */

/* The kinds of what an event's common shape asserts (setup()'s project_kinds, project_edges). */
static PyObject *KIND_JOB, *KIND_RUN, *KIND_DATASET; /* NodeKind members */
enum { READ_BY, WRITES, RUN_OF, READ, PRODUCED, PROJECT_EDGES };
static PyObject *EDGE_KINDS[PROJECT_EDGES];    /* EdgeKind members */
static PyObject *EDGE_VARIANTS[PROJECT_EDGES]; /* their variants (graph/codes.py EDGE_CODES) */

/* The run states an eventType may name (model.EVENT_TYPES): each as setup() gave it, with its
   rank in a stamp (merge.RANK) and whether it sets a run's started_at or ended_at. */
enum { MAX_EVENT_TYPES = 16 };
static Name EVENT_TYPES[MAX_EVENT_TYPES];
static long EVENT_RANKS[MAX_EVENT_TYPES];
static int EVENT_STARTS[MAX_EVENT_TYPES], EVENT_ENDS[MAX_EVENT_TYPES], EVENT_TYPE_COUNT = 0;

/* The facets whose shape the Python parser checks (model.CHECKED_FACETS), by where they appear,
   but those this path checks itself: frozensets of names; this path declines an event with one. */
enum { ON_RUN, ON_JOB, ON_DATASET, ON_INPUT, ON_OUTPUT, PLACES };
static PyObject *DECLINED[PLACES];

/* Fills `s` from a class of graph/delta.py and the names of its fields the loops use, which
   must be its slots. */
static int shape(Shape *s, PyObject *given, int count) {
    PyObject *type = PyTuple_Check(given) && PyTuple_GET_SIZE(given) == 2
                         ? PyTuple_GET_ITEM(given, 0)
                         : NULL,
             *names = type ? PyTuple_GET_ITEM(given, 1) : NULL;
    if (type == NULL || !PyType_Check(type) || !PyTuple_Check(names) ||
        PyTuple_GET_SIZE(names) != count) {
        PyErr_Format(PyExc_TypeError, "setup: a delta class is given as (class, %d field names)",
                     count);
        return -1;
    }
    Shape found = {(PyTypeObject *)type, {NULL}, {0}, count};
    for (int i = 0; i < count; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        PyObject *descr = PyUnicode_Check(name)
                              ? PyDict_GetItemWithError(found.type->tp_dict, name)
                              : NULL;
        if (descr == NULL || Py_TYPE(descr) != &PyMemberDescr_Type ||
            ((PyMemberDescrObject *)descr)->d_member->type != T_OBJECT_EX) {
            if (!PyErr_Occurred()) {
                PyErr_Format(PyExc_TypeError, "setup: %s.%S is not a slot", found.type->tp_name,
                             name);
            }
            return -1;
        }
        found.offsets[i] = ((PyMemberDescrObject *)descr)->d_member->offset;
        found.names[i] = name;
    }
    Py_INCREF(type);
    for (int i = 0; i < count; i++) {
        Py_INCREF(found.names[i]);
        PyUnicode_InternInPlace(&found.names[i]);
    }
    Py_XDECREF(s->type);
    for (int i = 0; i < 5; i++) {
        Py_XDECREF(s->names[i]);
    }
    *s = found;
    return 0;
}

static PyObject *make(Shape *s, PyObject **values) {
    /* a new instance with its slots set to `values` (new references taken) */
    PyObject *obj = s->type->tp_alloc(s->type, 0);
    if (obj == NULL) {
        return NULL;
    }
    for (int i = 0; i < s->count; i++) {
        Py_INCREF(values[i]);
        *(PyObject **)((char *)obj + s->offsets[i]) = values[i];
    }
    return obj;
}

/* -- time and ids in their common forms; anything else declines ---------------------------- */

static int digits(const char *p, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 1;
}

/* "YYYY-MM-DDTHH:MM:SS[.fraction](Z|z|+00:00|-00:00)?" (a zone-less time is UTC, as in
   fields.parse_timestamp) to "YYYY-MM-DDTHH:MM:SS.ffffff+00:00", or with `short` the form
   datetime.isoformat() gives (no fraction when it is zero). 1 = read, 0 = decline. */
static int utc_time(PyObject *text, int micro_always, PyObject **out) {
    Py_ssize_t n;
    const char *p = PyUnicode_Check(text) ? PyUnicode_AsUTF8AndSize(text, &n) : NULL;
    if (p == NULL) {
        PyErr_Clear();
        return 0;
    }
    int year, month, day, hour, minute, second, micro = 0;
    if (n < 19 || p[4] != '-' || p[7] != '-' || p[10] != 'T' || p[13] != ':' || p[16] != ':' ||
        !digits(p, 4, &year) || !digits(p + 5, 2, &month) || !digits(p + 8, 2, &day) ||
        !digits(p + 11, 2, &hour) || !digits(p + 14, 2, &minute) ||
        !digits(p + 17, 2, &second)) {
        return 0;
    }
    Py_ssize_t at = 19;
    if (at < n && p[at] == '.') {
        Py_ssize_t start = ++at;
        while (at < n && p[at] >= '0' && p[at] <= '9') {
            if (at - start < 6) {
                micro = micro * 10 + (p[at] - '0');
            }
            at++;
        }
        Py_ssize_t count = at - start;
        if (count == 0) {
            return 0;
        }
        for (Py_ssize_t i = count; i < 6; i++) {
            micro *= 10;
        }
    }
    const char *zone = p + at;
    Py_ssize_t rest = n - at;
    if (!(rest == 0 || (rest == 1 && (*zone == 'Z' || *zone == 'z')) ||
          (rest == 6 && (memcmp(zone, "+00:00", 6) == 0 || memcmp(zone, "-00:00", 6) == 0)))) {
        return 0;
    }
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (year < 1 || month < 1 || month > 12 || day < 1 ||
        day > days[month - 1] + (month == 2 && leap) || hour > 23 || minute > 59 || second > 59) {
        return 0;
    }
    char buf[40];
    int len = (micro_always || micro)
                  ? snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00", year,
                             month, day, hour, minute, second, micro)
                  : snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d+00:00", year, month,
                             day, hour, minute, second);
    *out = PyUnicode_FromStringAndSize(buf, len);
    return *out == NULL ? -1 : 1;
}

/* A run id in its canonical 8-4-4-4-12 form (any case) to str(uuid.UUID(...)). */
static int run_uuid(PyObject *text, PyObject **out) {
    Py_ssize_t n;
    const char *p = PyUnicode_Check(text) ? PyUnicode_AsUTF8AndSize(text, &n) : NULL;
    if (p == NULL) {
        PyErr_Clear();
        return 0;
    }
    if (n != 36) {
        return 0;
    }
    char buf[36];
    for (int i = 0; i < 36; i++) {
        char ch = p[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (ch != '-') {
                return 0;
            }
        } else if (ch >= 'A' && ch <= 'F') {
            ch = (char)(ch + 32);
        } else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
            return 0;
        }
        buf[i] = ch;
    }
    *out = PyUnicode_FromStringAndSize(buf, 36);
    return *out == NULL ? -1 : 1;
}

static int starts_object(PyObject *raw) {
    Py_buffer view;
    if (PyObject_GetBuffer(raw, &view, PyBUF_SIMPLE) < 0) {
        return -1;
    }
    int yes = view.len > 0 && ((const char *)view.buf)[0] == '{';
    PyBuffer_Release(&view);
    return yes;
}

/* Each facet of `facets` (a dict of msgspec.Raw, or None) decoded into `props` as prefix+name,
   but schema and columnLineage (returned through `schema`/`lineage`, borrowed, when asked) and
   the checked facets of `place` this path does not check (decline). `typed`, if given, gets the
   facet named `typed_name` (jobType, nominalTime, outputStatistics, symlinks) decoded (borrowed
   from props). 1 = done, 0 = decline, -1 = error. */
static int facet_props(const Parser *h, PyObject *facets, PyObject *props, PyObject *prefix,
                       int place, PyObject **schema, PyObject **lineage, PyObject *typed_name,
                       PyObject **typed) {
    if (facets == Py_None) {
        return 1;
    }
    if (!PyDict_Check(facets)) {
        return 0;
    }
    Py_ssize_t pos = 0;
    PyObject *name, *raw;
    while (PyDict_Next(facets, &pos, &name, &raw)) {
        if (!PyUnicode_Check(name)) {
            return 0;
        }
        int declined = PySet_Contains(DECLINED[place], name);
        if (declined != 0) {
            return declined < 0 ? -1 : 0;
        }
        int object = starts_object(raw);
        if (object <= 0) {
            return object;
        }
        if (schema != NULL && PyUnicode_Compare(name, S(F_SCHEMA)) == 0) {
            *schema = raw;
            continue;
        }
        if (lineage != NULL && PyUnicode_Compare(name, S(F_COLUMN_LINEAGE)) == 0) {
            *lineage = raw;
            continue;
        }
        if (PyErr_Occurred()) {
            return -1;
        }
        PyObject *value = PyObject_CallOneArg(h->generic, raw);
        if (value == NULL) {
            return -1;
        }
        /* projection keeps every facet as a property, but these two names */
        int kept = schema != NULL || (PyUnicode_Compare(name, S(F_SCHEMA)) != 0 &&
                                      PyUnicode_Compare(name, S(F_COLUMN_LINEAGE)) != 0);
        PyObject *key = kept ? PyUnicode_Concat(prefix, name) : NULL;
        int rc = kept && (key == NULL || PyDict_SetItem(props, key, value) < 0) ? -1 : 0;
        Py_XDECREF(key);
        if (rc == 0 && typed_name != NULL && PyUnicode_Compare(name, typed_name) == 0) {
            *typed = value; /* props holds it */
        }
        Py_DECREF(value);
        if (rc < 0) {
            return -1;
        }
    }
    return 1;
}

static int optional_str(PyObject *dict, PyObject *key, PyObject **out) {
    /* dict[key] if it is a str or None (absent: None); 0 declines any other value */
    PyObject *value = PyDict_GetItemWithError(dict, key);
    if (value == NULL) {
        if (PyErr_Occurred()) {
            return -1;
        }
        value = Py_None;
    }
    if (value != Py_None && !PyUnicode_Check(value)) {
        return 0;
    }
    *out = value;
    return 1;
}

static int counts_only(PyObject *statistics) {
    /* outputStatistics as fastparse checks it: rowCount, size, fileCount integers or null */
    PyObject *keys[] = {S(K_ROW_COUNT), S(K_SIZE), S(K_FILE_COUNT)};
    for (int i = 0; i < 3; i++) {
        PyObject *value = PyDict_GetItemWithError(statistics, keys[i]);
        if (value == NULL && PyErr_Occurred()) {
            return -1;
        }
        if (value != NULL && value != Py_None) {
            int overflow = 0;
            if (!PyLong_CheckExact(value)) {
                return 0;
            }
            (void)PyLong_AsLongLongAndOverflow(value, &overflow);
            if (overflow) {
                return 0; /* beyond 64 bits: the Python parser decides */
            }
        }
    }
    return 1;
}

static int identifiers_only(PyObject *symlinks) {
    /* symlinks as fastparse (_Symlinks, _Identifier) and facets.py (_symlinks) check it:
       identifiers absent, null or a list of objects, each with a non-empty string namespace,
       name and type (other keys kept as they came) */
    PyObject *identifiers = PyDict_GetItemWithError(symlinks, S(K_IDENTIFIERS));
    if (identifiers == NULL) {
        return PyErr_Occurred() ? -1 : 1;
    }
    if (identifiers == Py_None) {
        return 1;
    }
    if (!PyList_Check(identifiers)) {
        return 0;
    }
    PyObject *keys[] = {S(K_NAMESPACE), S(K_NAME), S(K_TYPE)};
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(identifiers); i++) {
        PyObject *item = PyList_GET_ITEM(identifiers, i);
        if (!PyDict_Check(item)) {
            return 0;
        }
        for (int k = 0; k < 3; k++) {
            PyObject *value = PyDict_GetItemWithError(item, keys[k]);
            if (value == NULL) {
                return PyErr_Occurred() ? -1 : 0;
            }
            if (!PyUnicode_Check(value) || PyUnicode_GET_LENGTH(value) == 0) {
                return 0;
            }
        }
    }
    return 1;
}

typedef struct {
    PyObject *nodes, *edges, *columns; /* the delta's lists */
} Built;

static PyObject *node_upsert(Built *b, PyObject *id, PyObject *kind, PyObject *props) {
    /* appends the NodeUpsert; returns it borrowed (the list holds it) */
    PyObject *values[3] = {id, kind, props};
    PyObject *node = make(&NODE_UPSERT, values);
    int rc = node == NULL ? -1 : PyList_Append(b->nodes, node);
    Py_XDECREF(node);
    return rc < 0 ? NULL : node;
}

static int edge_upsert(Built *b, PyObject *src, int which, PyObject *dst) {
    PyObject *props = PyDict_New();
    if (props == NULL) {
        return -1;
    }
    PyObject *values[5] = {src, EDGE_KINDS[which], dst, props, EDGE_VARIANTS[which]};
    PyObject *edge = make(&EDGE_UPSERT, values);
    Py_DECREF(props);
    int rc = edge == NULL ? -1 : PyList_Append(b->edges, edge);
    Py_XDECREF(edge);
    return rc;
}

static PyObject *set_item(PyObject *dict, PyObject *key, PyObject *value) {
    /* dict[key] = value; returns dict or NULL */
    return PyDict_SetItem(dict, key, value) < 0 ? NULL : dict;
}

/* One input or output, `id` its node id: its node and its column facts; 1 = done, 0 = decline,
   -1 = error. */
static int dataset_part(const Parser *h, Built *b, PyObject *raw, PyObject *id, int output,
                        PyObject *memo, PyObject *known, PyObject **props_out) {
    PyObject *ns = PyObject_GetAttr(raw, S(K_NAMESPACE)), *name = PyObject_GetAttr(raw, S(K_NAME)),
             *facets = PyObject_GetAttr(raw, S(K_FACETS)),
             *io = PyObject_GetAttr(raw, output ? S(K_OUTPUT_FACETS) : S(K_INPUT_FACETS));
    PyObject *props = NULL, *schema = NULL, *lineage = NULL, *schema_raw = NULL,
             *lineage_raw = NULL;
    int result = -1;
    if (!ns || !name || !facets || !io) {
        goto done;
    }
    if (!(props = PyDict_New()) || !set_item(props, S(P_NAMESPACE), ns) ||
        !set_item(props, S(P_NAME), name)) {
        goto done;
    }
    PyObject *symlinks = NULL, *statistics = NULL;
    int rc = facet_props(h, facets, props, S(P_FACET), ON_DATASET, &schema_raw, &lineage_raw,
                         S(F_SYMLINKS), &symlinks);
    if (rc == 1 && symlinks != NULL) {
        rc = PyDict_Check(symlinks) ? identifiers_only(symlinks) : 0;
    }
    if (rc == 1) {
        rc = facet_props(h, io, props, output ? S(P_OUTPUT) : S(P_INPUT),
                         output ? ON_OUTPUT : ON_INPUT, NULL, NULL,
                         output ? S(F_OUTPUT_STATISTICS) : NULL, &statistics);
    }
    if (rc == 1 && statistics != NULL) {
        rc = counts_only(statistics);
    }
    if (rc != 1) {
        result = rc;
        goto done;
    }
    if (!node_upsert(b, id, KIND_DATASET, props)) {
        goto done;
    }
    if (schema_raw != NULL && !(schema = facet_value(h, schema_raw, memo, 1))) {
        goto done;
    }
    if (lineage_raw != NULL && !(lineage = facet_value(h, lineage_raw, memo, 0))) {
        goto done;
    }
    if (schema != NULL || lineage != NULL) {
        PyObject *entries = PyTuple_New(0), *digest = Py_None, *resolved = NULL;
        Py_INCREF(digest);
        if (entries != NULL && lineage != NULL) {
            resolved = PyObject_CallFunctionObjArgs(h->resolve, lineage, schema ? schema : Py_None,
                                                    known, NULL);
            if (resolved != NULL && PyTuple_Check(resolved) && PyTuple_GET_SIZE(resolved) == 3) {
                PyObject *unresolved = PyTuple_GET_ITEM(resolved, 2);
                int any = PyObject_IsTrue(unresolved);
                if (any < 0 || (any && PyDict_SetItem(props, S(P_UNRESOLVED), unresolved) < 0)) {
                    Py_CLEAR(resolved); /* kept visible when there are some, as projection does */
                }
                if (resolved != NULL) {
                    Py_SETREF(entries, Py_NewRef(PyTuple_GET_ITEM(resolved, 0)));
                    Py_SETREF(digest, Py_NewRef(PyTuple_GET_ITEM(resolved, 1)));
                }
            } else if (resolved != NULL) {
                PyErr_SetString(PyExc_TypeError, "project: _resolve gave no 3-tuple");
                Py_CLEAR(resolved);
            }
        }
        PyObject *values[4] = {id, schema ? schema : Py_None, entries, digest};
        PyObject *facts = entries != NULL && (lineage == NULL || resolved != NULL)
                              ? make(&COLUMN_FACTS, values)
                              : NULL;
        int added = facts == NULL ? -1 : PyList_Append(b->columns, facts);
        Py_XDECREF(facts);
        Py_XDECREF(entries);
        Py_XDECREF(digest);
        Py_XDECREF(resolved);
        if (added < 0) {
            goto done;
        }
    }
    *props_out = props; /* borrowed: the node holds it */
    result = 1;
done:
    Py_XDECREF(ns);
    Py_XDECREF(name);
    Py_XDECREF(facets);
    Py_XDECREF(io);
    Py_XDECREF(props);
    Py_XDECREF(schema);
    Py_XDECREF(lineage);
    return result;
}

static int event_type_index(PyObject *value) {
    /* the index of eventType (any case) among EVENT_TYPES; -1 for null; -2 declines */
    if (value == Py_None) {
        return -1;
    }
    Py_ssize_t n;
    const char *p = PyUnicode_Check(value) ? PyUnicode_AsUTF8AndSize(value, &n) : NULL;
    if (p == NULL) {
        PyErr_Clear();
        return -2;
    }
    if (n == 0) {
        return -2; /* "": the Python parser rejects it */
    }
    for (int i = 0; i < EVENT_TYPE_COUNT; i++) {
        if (upper_is(p, n, &EVENT_TYPES[i])) {
            return i;
        }
    }
    return -2;
}

/* The GraphDelta of a decoded fastparse._Event in its common shape (a run event naming each
   dataset once, no parent, error, ownership or other checked facet besides jobType, nominalTime
   and outputStatistics, times in UTC, a canonical run id); None declines. */
static PyObject *project_event(const Parser *h, PyObject *raw, PyObject *memo) {
    PyObject *result = NULL;
    PyObject *event_time = NULL, *event_type_raw = NULL, *run = NULL, *job = NULL, *inputs = NULL,
             *outputs = NULL, *dataset = NULL, *time = NULL, *stamp = NULL, *run_uuid_text = NULL,
             *run_node = NULL, *job_id = NULL, *job_ns = NULL, *job_name = NULL,
             *job_facets = NULL, *run_id_text = NULL, *run_facets = NULL, *job_props = NULL,
             *run_props = NULL, *known = NULL, *dataset_ids = NULL, *nominal_start = NULL,
             *nominal_end = NULL;
    Built b = {PyList_New(0), PyList_New(0), PyList_New(0)};
    if (!b.nodes || !b.edges || !b.columns) {
        goto done;
    }
#define GET(var, obj, name)                                                                    \
    if (!(var = PyObject_GetAttr(obj, name))) {                                                \
        goto done;                                                                             \
    }
    GET(event_time, raw, S(K_EVENT_TIME));
    GET(event_type_raw, raw, S(K_EVENT_TYPE));
    GET(run, raw, S(K_RUN));
    GET(job, raw, S(K_JOB));
    GET(inputs, raw, S(K_INPUTS));
    GET(outputs, raw, S(K_OUTPUTS));
    GET(dataset, raw, S(K_DATASET));
    /* a run event, its job and run given: anything else takes the Python path */
    if (dataset != h->unset || run == Py_None || run == h->unset || job == Py_None ||
        job == h->unset || !(inputs == Py_None || PyList_Check(inputs)) ||
        !(outputs == Py_None || PyList_Check(outputs))) {
        goto decline;
    }
    int type_at = event_type_index(event_type_raw);
    if (type_at == -2) {
        goto decline;
    }
    PyObject *event_type = type_at >= 0 ? EVENT_TYPES[type_at].str : Py_None;
    int rc = utc_time(event_time, 1, &time);
    if (rc <= 0) {
        goto end;
    }
    /* merge.stamp(time, event type): a type's rank, and 0 for none */
    if (!(stamp = PyUnicode_FromFormat("%U%U%ld", time, S(STAMP_SEPARATOR),
                                       type_at >= 0 ? EVENT_RANKS[type_at] : 0L))) {
        goto done;
    }
    GET(run_id_text, run, S(K_RUN_ID));
    if ((rc = run_uuid(run_id_text, &run_uuid_text)) <= 0) {
        goto end;
    }
    if (!(run_node = join((PyObject *[]){S(RUN_PREFIX), run_uuid_text}, 2))) {
        goto done;
    }
    GET(job_ns, job, S(K_NAMESPACE));
    GET(job_name, job, S(K_NAME));
    GET(job_facets, job, S(K_FACETS));
    GET(run_facets, run, S(K_FACETS));
    if ((rc = plain_pair(job_ns, job_name)) <= 0) {
        goto end; /* an escaped id is Python's to build */
    }
    if (!(job_id = join((PyObject *[]){S(JOB_PREFIX), job_ns, S(ID_SEPARATOR), job_name}, 4))) {
        goto done;
    }
    /* the datasets the event names, inputs then outputs: column lineage may cite only these
       (as Marquez); one named twice takes the Python path, which merges its mentions */
    if (!(known = PySet_New(NULL)) || !(dataset_ids = PyList_New(0))) {
        goto done;
    }
    for (int side = 0; side < 2; side++) {
        PyObject *list = side == 0 ? inputs : outputs;
        for (Py_ssize_t i = 0; list != Py_None && i < PyList_GET_SIZE(list); i++) {
            PyObject *item = PyList_GET_ITEM(list, i), *ns = NULL, *name = NULL, *id = NULL;
            ns = PyObject_GetAttr(item, S(K_NAMESPACE));
            name = ns ? PyObject_GetAttr(item, S(K_NAME)) : NULL;
            int plain = name ? plain_pair(ns, name) : -1;
            id = plain > 0 ? join((PyObject *[]){S(DATASET_PREFIX), ns, S(ID_SEPARATOR), name}, 4)
                           : NULL;
            int added = plain == 0 ? -2 : id == NULL ? -1 : PySet_Add(known, id);
            if (added == 0) {
                added = PyList_Append(dataset_ids, id);
            }
            Py_XDECREF(ns);
            Py_XDECREF(name);
            Py_XDECREF(id);
            if (added == -2) {
                goto decline; /* an escaped id is Python's to build */
            }
            if (added < 0) {
                goto done;
            }
        }
    }
    if (PySet_GET_SIZE(known) != PyList_GET_SIZE(dataset_ids)) {
        goto decline;
    }
    /* the job */
    if (!(job_props = PyDict_New()) || !set_item(job_props, S(P_NAMESPACE), job_ns) ||
        !set_item(job_props, S(P_NAME), job_name)) {
        goto done;
    }
    PyObject *job_type = NULL;
    {
        /* the type goes in before the facets, as projection puts it */
        PyObject *scratch = PyDict_New();
        if (scratch == NULL) {
            goto done;
        }
        rc = facet_props(h, job_facets, scratch, S(P_FACET), ON_JOB, NULL, NULL, S(F_JOB_TYPE),
                         &job_type);
        if (rc == 1 && job_type != NULL && PyDict_Check(job_type) && PyDict_GET_SIZE(job_type) > 0) {
            PyObject *kind, *processing, *integration;
            rc = optional_str(job_type, S(K_JOB_TYPE), &kind);
            if (rc == 1) {
                rc = optional_str(job_type, S(K_PROCESSING_TYPE), &processing);
            }
            if (rc == 1) {
                rc = optional_str(job_type, S(K_INTEGRATION), &integration);
            }
            if (rc == 1) {
                PyObject *chosen = (kind != Py_None && PyUnicode_GET_LENGTH(kind) > 0) ? kind : processing;
                if (chosen != Py_None && PyDict_SetItem(job_props, S(P_TYPE), chosen) < 0) {
                    rc = -1;
                }
            }
        } else if (rc == 1 && job_type != NULL && !PyDict_Check(job_type)) {
            rc = 0;
        }
        if (rc == 1 && PyDict_Update(job_props, scratch) < 0) {
            rc = -1;
        }
        Py_DECREF(scratch);
        if (rc <= 0) {
            goto end;
        }
    }
    if (!node_upsert(&b, job_id, KIND_JOB, job_props)) {
        goto done;
    }
    /* the run */
    if (!(run_props = PyDict_New()) || !set_item(run_props, S(P_RUN_ID), run_uuid_text) ||
        !set_item(run_props, S(P_JOB), job_id)) {
        goto done;
    }
    if (event_type != Py_None) {
        if (!set_item(run_props, S(P_STATE), event_type) ||
            !set_item(run_props, S(P_UPDATED_AT), time)) {
            goto done;
        }
        if (EVENT_STARTS[type_at] && !set_item(run_props, S(P_STARTED_AT), time)) {
            goto done;
        }
        if (EVENT_ENDS[type_at] && !set_item(run_props, S(P_ENDED_AT), time)) {
            goto done;
        }
    }
    {
        PyObject *nominal = NULL, *scratch = PyDict_New();
        if (scratch == NULL) {
            goto done;
        }
        rc = facet_props(h, run_facets, scratch, S(P_FACET), ON_RUN, NULL, NULL,
                         S(F_NOMINAL_TIME), &nominal);
        if (rc == 1 && nominal != NULL) {
            PyObject *start = PyDict_Check(nominal)
                                  ? PyDict_GetItemWithError(nominal, S(K_NOMINAL_START_TIME))
                                  : NULL;
            PyObject *end_text = NULL;
            rc = PyErr_Occurred() ? -1 : 0;
            if (start != NULL && PyUnicode_Check(start) && PyUnicode_GET_LENGTH(start) > 0) {
                rc = optional_str(nominal, S(K_NOMINAL_END_TIME), &end_text);
                if (rc == 1) {
                    rc = utc_time(start, 0, &nominal_start);
                }
                if (rc == 1 && end_text != Py_None && PyUnicode_GET_LENGTH(end_text) > 0) {
                    rc = utc_time(end_text, 0, &nominal_end);
                }
                if (rc == 1 &&
                    (!set_item(run_props, S(P_NOMINAL_START), nominal_start) ||
                     (nominal_end && !set_item(run_props, S(P_NOMINAL_END), nominal_end)))) {
                    rc = -1;
                }
            }
        }
        if (rc == 1 && PyDict_Update(run_props, scratch) < 0) {
            rc = -1;
        }
        Py_DECREF(scratch);
        if (rc <= 0) {
            goto end;
        }
    }
    if (!node_upsert(&b, run_node, KIND_RUN, run_props) ||
        edge_upsert(&b, run_node, RUN_OF, job_id) < 0) {
        goto done;
    }
    if (event_type != Py_None && (!set_item(job_props, S(P_LAST_RUN), run_node) ||
                                  !set_item(job_props, S(P_LAST_RUN_STATE), event_type))) {
        goto done; /* the job node's props: its last run */
    }
    /* inputs, then outputs, in the order their ids were made above */
    Py_ssize_t at = 0;
    for (int side = 0; side < 2; side++) {
        PyObject *list = side == 0 ? inputs : outputs;
        for (Py_ssize_t i = 0; list != Py_None && i < PyList_GET_SIZE(list); i++, at++) {
            PyObject *props = NULL;
            if (at >= PyList_GET_SIZE(dataset_ids)) {
                goto decline; /* the lists changed under us: let Python read the event */
            }
            PyObject *id = PyList_GET_ITEM(dataset_ids, at);
            rc = dataset_part(h, &b, PyList_GET_ITEM(list, i), id, side == 1, memo, known,
                              &props);
            if (rc <= 0) {
                goto end;
            }
            int ok = side == 0 ? edge_upsert(&b, id, READ_BY, job_id) == 0 &&
                                     edge_upsert(&b, run_node, READ, id) == 0
                               : edge_upsert(&b, job_id, WRITES, id) == 0 &&
                                     edge_upsert(&b, run_node, PRODUCED, id) == 0;
            if (ok && side == 1 && event_type != Py_None) {
                ok = set_item(props, S(P_LAST_RUN), run_node) &&
                     set_item(props, S(P_LAST_RUN_STATE), event_type);
            }
            if (!ok) {
                goto done;
            }
        }
    }
    {
        PyObject *values[5] = {stamp, run_node, b.nodes, b.edges, b.columns};
        result = make(&DELTA, values);
    }
    goto done;
end:
    if (PyErr_Occurred()) {
        goto done;
    }
decline:
    result = Py_NewRef(Py_None);
done:
#undef GET
    Py_XDECREF(b.nodes);
    Py_XDECREF(b.edges);
    Py_XDECREF(b.columns);
    Py_XDECREF(event_time);
    Py_XDECREF(event_type_raw);
    Py_XDECREF(run);
    Py_XDECREF(job);
    Py_XDECREF(inputs);
    Py_XDECREF(outputs);
    Py_XDECREF(dataset);
    Py_XDECREF(time);
    Py_XDECREF(stamp);
    Py_XDECREF(run_uuid_text);
    Py_XDECREF(run_node);
    Py_XDECREF(job_id);
    Py_XDECREF(job_ns);
    Py_XDECREF(job_name);
    Py_XDECREF(job_facets);
    Py_XDECREF(run_id_text);
    Py_XDECREF(run_facets);
    Py_XDECREF(job_props);
    Py_XDECREF(run_props);
    Py_XDECREF(known);
    Py_XDECREF(dataset_ids);
    Py_XDECREF(nominal_start);
    Py_XDECREF(nominal_end);
    return result;
}

/* project(event, memo, parser): project_event of one decoded event (fast_delta). */
static PyObject *project(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    Parser h;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "project(event, memo, parser)");
        return NULL;
    }
    if (!ready() || parser_of(args[2], &h) < 0) {
        return NULL;
    }
    return project_event(&h, args[0], args[1]);
}

/* project_many(bodies, memo, parser): [project(decode(body), memo) or None for each body], where
   None also stands for a body the decoder refuses or the parser's helpers decline (the exceptions
   given as its `declines`) and for a sync record; the caller takes the Python path for those. */
static PyObject *project_many(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    Parser h;
    if (nargs != 3 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "project_many(bodies: list[bytes], memo, parser)");
        return NULL;
    }
    if (!ready() || parser_of(args[2], &h) < 0) {
        return NULL;
    }
    /* a tuple of them: the helpers called back into Python cannot change it under the loop */
    PyObject *bodies = PySequence_Tuple(args[0]), *memo = args[1];
    if (bodies == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(bodies);
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        PyObject *body = PyTuple_GET_ITEM(bodies, i), *delta = NULL;
        if (!PyBytes_Check(body)) {
            PyErr_SetString(PyExc_TypeError, "project_many: a body is not bytes");
            Py_CLEAR(out);
            break;
        }
        Py_ssize_t p = PyBytes_GET_SIZE(h.record_prefix);
        if (PyBytes_GET_SIZE(body) >= p &&
            memcmp(PyBytes_AS_STRING(body), PyBytes_AS_STRING(h.record_prefix), p) == 0) {
            delta = Py_NewRef(Py_None);
        } else {
            PyObject *event = PyObject_CallOneArg(h.decode, body);
            if (event != NULL) {
                delta = project_event(&h, event, memo);
                Py_DECREF(event);
            }
            if (delta == NULL && PyErr_ExceptionMatches(h.declines)) {
                PyErr_Clear();
                delta = Py_NewRef(Py_None);
            }
        }
        if (delta == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, delta);
    }
    Py_DECREF(bodies);
    return out;
}

/* -- depth: how deeply a JSON text nests, before any decoder recurses into it ----------------- */

/* One byte of the scan: 1 when a bracket opens a container deeper than `limit`. */
static inline int depth_step(char ch, int *in_string, int *escaped, long *level, long limit) {
    if (*in_string) {
        if (*escaped) {
            *escaped = 0;
        } else if (ch == '\\') {
            *escaped = 1;
        } else if (ch == '"') {
            *in_string = 0;
        }
        return 0;
    }
    if (ch == '"') {
        *in_string = 1;
    } else if (ch == '[' || ch == '{') {
        return ++*level > limit;
    } else if (ch == ']' || ch == '}') {
        --*level;
    }
    return 0;
}

#ifdef __SSE2__
/* The bits of the 64 bytes at p equal to `a` or `b`. */
static inline uint64_t bytes_mask(const char *p, char a, char b) {
    uint64_t mask = 0;
    for (int i = 0; i < 4; i++) {
        __m128i chunk = _mm_loadu_si128((const __m128i *)(p + 16 * i));
        __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(chunk, _mm_set1_epi8(a)),
                                   _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b)));
        mask |= (uint64_t)(uint16_t)_mm_movemask_epi8(hit) << (16 * i);
    }
    return mask;
}
#endif

/* depth(body, limit): the offset of the first bracket that opens a container more than `limit`
   deep, or -1 when none does (strings are skipped, escapes and all). Only the brackets are
   counted: whether the text is JSON at all is for the decoders to say. Sixty-four bytes at a
   time where SSE2 is there and the block holds no backslash: the bytes inside strings are found
   from the quotes (a prefix XOR), then the brackets outside them are counted. */
static PyObject *depth(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 2 || !PyBytes_Check(args[0]) || !PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "depth(body: bytes, limit: int)");
        return NULL;
    }
    long limit = PyLong_AsLong(args[1]);
    if (limit == -1 && PyErr_Occurred()) {
        return NULL;
    }
    const char *start = PyBytes_AS_STRING(args[0]), *end = start + PyBytes_GET_SIZE(args[0]);
    const char *p = start;
    long level = 0;
    int in_string = 0, escaped = 0;
#ifdef __SSE2__
    while (end - p >= 64) {
        uint64_t slashes = bytes_mask(p, '\\', '\\');
        if (slashes != 0 || escaped) {
            for (const char *q = p + 64; p < q; p++) {
                if (depth_step(*p, &in_string, &escaped, &level, limit)) {
                    return PyLong_FromSsize_t(p - start);
                }
            }
            continue;
        }
        uint64_t quotes = bytes_mask(p, '"', '"'), inside = quotes;
        for (int shift = 1; shift < 64; shift *= 2) {
            inside ^= inside << shift; /* set from an opening quote up to its closing one */
        }
        if (in_string) {
            inside = ~inside;
        }
        in_string = (int)(inside >> 63);
        uint64_t opens = bytes_mask(p, '[', '{') & ~inside,
                 closes = bytes_mask(p, ']', '}') & ~inside;
        if (level + __builtin_popcountll(opens) <= limit) {
            level += __builtin_popcountll(opens) - __builtin_popcountll(closes);
        } else {
            for (uint64_t both = opens | closes; both != 0; both &= both - 1) {
                int at = __builtin_ctzll(both);
                if ((opens >> at) & 1) {
                    if (++level > limit) {
                        return PyLong_FromSsize_t(p + at - start);
                    }
                } else {
                    level--;
                }
            }
        }
        p += 64;
    }
#endif
    for (; p < end; p++) {
        if (depth_step(*p, &in_string, &escaped, &level, limit)) {
            return PyLong_FromSsize_t(p - start);
        }
    }
    return PyLong_FromLong(-1);
}

/* -- module ----------------------------------------------------------------------------------- */

static void shape_release(Shape *s) {
    Py_CLEAR(s->type);
    for (int i = 0; i < 5; i++) {
        Py_CLEAR(s->names[i]);
    }
}

/* kwargs[keyword], borrowed; NULL with a TypeError if it is missing. Counts it in `*used`. */
static PyObject *given(PyObject *kwargs, const char *keyword, Py_ssize_t *used) {
    PyObject *value = PyDict_GetItemString(kwargs, keyword);
    if (value == NULL) {
        PyErr_Format(PyExc_TypeError, "setup: missing keyword %s", keyword);
        return NULL;
    }
    (*used)++;
    return value;
}

/* A str handed in, interned, as a Name holding a new reference; -1 with a TypeError. */
static int name_of(PyObject *value, const char *what, Name *out) {
    if (!PyUnicode_CheckExact(value)) {
        PyErr_Format(PyExc_TypeError, "setup: %s is not a str", what);
        return -1;
    }
    Py_INCREF(value);
    PyUnicode_InternInPlace(&value);
    out->utf8 = PyUnicode_AsUTF8AndSize(value, &out->len);
    if (out->utf8 == NULL) {
        Py_DECREF(value);
        return -1;
    }
    out->str = value;
    return 0;
}

/* setup(**facts): every fact the loops use, handed in once by ripple/graph/native.py (which
   says where each comes from). Everything is checked before anything is kept, so a failed call
   leaves the module as it was; each object kept holds its own reference. */
static PyObject *setup(PyObject *module, PyObject *args, PyObject *kwargs) {
    (void)module;
    if (PyTuple_GET_SIZE(args) != 0 || kwargs == NULL) {
        PyErr_SetString(PyExc_TypeError, "setup takes keyword arguments only");
        return NULL;
    }
    Py_ssize_t used = 0;
    Name names[NAME_COUNT] = {{NULL, NULL, 0}}, types[MAX_EVENT_TYPES] = {{NULL, NULL, 0}};
    Shape shapes[4] = {{NULL, {NULL}, {0}, 0}};
    long ranks[MAX_EVENT_TYPES] = {0}, codes[5] = {0};
    int starts[MAX_EVENT_TYPES] = {0}, ends[MAX_EVENT_TYPES] = {0}, type_count = 0, ok = 0;
    PyObject *variants[PROJECT_EDGES] = {NULL};
    PyObject *value;

    for (int i = 0; i < NAME_COUNT; i++) {
        if (!(value = given(kwargs, NAME_KEYWORDS[i], &used)) ||
            name_of(value, NAME_KEYWORDS[i], &names[i]) < 0) {
            goto done;
        }
    }
    if (PyUnicode_GET_LENGTH(names[N_ID_SEPARATOR].str) != 1 ||
        PyUnicode_GET_LENGTH(names[N_STAMP_SEPARATOR].str) != 1 ||
        names[N_ID_SEPARATOR].len != 1 || names[N_ESCAPED].len != 1) {
        PyErr_SetString(PyExc_TypeError, "setup: the id and stamp separators are one character "
                                         "(the id's ASCII), as is the escape mark");
        goto done;
    }

    static const char *code_keywords[5] = {"dataset_code", "column_code", "has_column_code",
                                           "direct_code", "indirect_code"};
    for (int i = 0; i < 5; i++) {
        if (!(value = given(kwargs, code_keywords[i], &used))) {
            goto done;
        }
        codes[i] = PyLong_AsLong(value);
        if (codes[i] == -1 && PyErr_Occurred()) {
            goto done;
        }
        if (codes[i] < 0 || codes[i] > 15) {
            PyErr_Format(PyExc_ValueError, "setup: %s is not a code of 4 bits", code_keywords[i]);
            goto done;
        }
    }

    /* objects kept as they are */
    enum { ENTRY, SCHEMA_T, KINDS, EDGES, PREFIXES, WINS_FN, KIND_OF_FN, FIELD_PART_FN, JOB_K, RUN_K, DATASET_K,
           READ_BY_K, WRITES_K, RUN_OF_K, READ_K, PRODUCED_K, D_RUN, D_JOB, D_DATASET, D_INPUT,
           D_OUTPUT, HELD };
    static const char *held_keywords[HELD] = {
        "lineage_entry", "schema_type", "node_kinds", "edge_codes", "prefix_codes", "wins",
        "kind_of", "field_part", "job_kind", "run_kind", "dataset_kind", "read_by_kind", "writes_kind",
        "run_of_kind", "read_kind", "produced_kind", "declined_run_facets", "declined_job_facets",
        "declined_dataset_facets", "declined_input_facets", "declined_output_facets"};
    PyObject *held[HELD];
    for (int i = 0; i < HELD; i++) {
        if (!(held[i] = given(kwargs, held_keywords[i], &used))) {
            goto done;
        }
        int fits = i == ENTRY || i == SCHEMA_T
                       ? PyType_Check(held[i]) &&
                             PyType_IsSubtype((PyTypeObject *)held[i], &PyTuple_Type)
                   : i == KINDS || i == EDGES        ? PyTuple_Check(held[i])
                   : i == PREFIXES                   ? PyDict_Check(held[i])
                   : i == WINS_FN || i == KIND_OF_FN || i == FIELD_PART_FN
                       ? PyCallable_Check(held[i])
                   : i >= D_RUN                      ? PyFrozenSet_Check(held[i])
                                                     : 1;
        if (!fits) {
            PyErr_Format(PyExc_TypeError, "setup: %s is not what the loops take (see native.py)",
                         held_keywords[i]);
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(held[EDGES]); i++) {
        PyObject *pair = PyTuple_GET_ITEM(held[EDGES], i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !PyUnicode_Check(PyTuple_GET_ITEM(pair, 1))) {
            PyErr_SetString(PyExc_TypeError, "setup: edge_codes holds (kind, variant) pairs");
            goto done;
        }
    }
    /* the variant of each edge kind the projection asserts: that of its first code */
    for (int e = 0; e < PROJECT_EDGES; e++) {
        PyObject *kind = held[READ_BY_K + e];
        for (Py_ssize_t i = 0; variants[e] == NULL && i < PyTuple_GET_SIZE(held[EDGES]); i++) {
            PyObject *pair = PyTuple_GET_ITEM(held[EDGES], i);
            if (PyTuple_GET_ITEM(pair, 0) == kind) {
                variants[e] = PyTuple_GET_ITEM(pair, 1);
            }
        }
        if (variants[e] == NULL) {
            PyErr_Format(PyExc_TypeError, "setup: %s has no edge code",
                         held_keywords[READ_BY_K + e]);
            goto done;
        }
    }

    static const char *shape_keywords[4] = {"delta", "node", "edge", "facts"};
    static const int shape_fields[4] = {5, 3, 5, 4};
    for (int i = 0; i < 4; i++) {
        if (!(value = given(kwargs, shape_keywords[i], &used)) ||
            shape(&shapes[i], value, shape_fields[i]) < 0) {
            goto done;
        }
    }

    /* event_types: ((name, rank, starts, ends), ...) */
    if (!(value = given(kwargs, "event_types", &used))) {
        goto done;
    }
    if (!PyTuple_Check(value) || PyTuple_GET_SIZE(value) == 0 ||
        PyTuple_GET_SIZE(value) > MAX_EVENT_TYPES) {
        PyErr_Format(PyExc_TypeError, "setup: event_types is a tuple of 1 to %d",
                     (int)MAX_EVENT_TYPES);
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(value); i++) {
        PyObject *item = PyTuple_GET_ITEM(value, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 4) {
            PyErr_SetString(PyExc_TypeError, "setup: an event type is (name, rank, starts, ends)");
            goto done;
        }
        if (name_of(PyTuple_GET_ITEM(item, 0), "an event type", &types[i]) < 0) {
            goto done;
        }
        type_count++;
        ranks[i] = PyLong_AsLong(PyTuple_GET_ITEM(item, 1));
        if (ranks[i] == -1 && PyErr_Occurred()) {
            goto done;
        }
        starts[i] = PyObject_IsTrue(PyTuple_GET_ITEM(item, 2));
        ends[i] = PyObject_IsTrue(PyTuple_GET_ITEM(item, 3));
        if (starts[i] < 0 || ends[i] < 0) {
            goto done;
        }
        if (types[i].len == 0) {
            PyErr_SetString(PyExc_TypeError, "setup: an event type's name is empty");
            goto done;
        }
    }
    if (used != PyDict_GET_SIZE(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "setup: an unexpected keyword (see native.py)");
        goto done;
    }

    /* all checked: keep them, releasing what an earlier call kept */
    for (int i = 0; i < NAME_COUNT; i++) {
        Py_XDECREF(NAMES[i].str);
        NAMES[i] = names[i];
        names[i].str = NULL; /* NAMES holds it now */
    }
    ID_SEPARATOR_CHAR = PyUnicode_READ_CHAR(S(ID_SEPARATOR), 0);
    ESCAPED_CHAR = PyUnicode_READ_CHAR(S(ESCAPED), 0);
    STAMP_SEPARATOR_CHAR = PyUnicode_READ_CHAR(S(STAMP_SEPARATOR), 0);
    DATASET_CODE = codes[0];
    COLUMN_CODE = codes[1];
    HAS_COLUMN = codes[2];
    DIRECT = codes[3];
    INDIRECT = codes[4];
    Py_XSETREF(LINEAGE_ENTRY, (PyTypeObject *)Py_NewRef(held[ENTRY]));
    Py_XSETREF(SCHEMA_TYPE, (PyTypeObject *)Py_NewRef(held[SCHEMA_T]));
    Py_XSETREF(NODE_KINDS, Py_NewRef(held[KINDS]));
    Py_XSETREF(EDGE_CODES, Py_NewRef(held[EDGES]));
    Py_XSETREF(PREFIX_CODES, Py_NewRef(held[PREFIXES]));
    Py_XSETREF(WINS, Py_NewRef(held[WINS_FN]));
    Py_XSETREF(KIND_OF, Py_NewRef(held[KIND_OF_FN]));
    Py_XSETREF(FIELD_PART, Py_NewRef(held[FIELD_PART_FN]));
    Py_XSETREF(KIND_JOB, Py_NewRef(held[JOB_K]));
    Py_XSETREF(KIND_RUN, Py_NewRef(held[RUN_K]));
    Py_XSETREF(KIND_DATASET, Py_NewRef(held[DATASET_K]));
    for (int e = 0; e < PROJECT_EDGES; e++) {
        Py_XSETREF(EDGE_KINDS[e], Py_NewRef(held[READ_BY_K + e]));
        Py_XSETREF(EDGE_VARIANTS[e], Py_NewRef(variants[e]));
    }
    for (int p = 0; p < PLACES; p++) {
        Py_XSETREF(DECLINED[p], Py_NewRef(held[D_RUN + p]));
    }
    Shape *kept[4] = {&DELTA, &NODE_UPSERT, &EDGE_UPSERT, &COLUMN_FACTS};
    for (int i = 0; i < 4; i++) {
        shape_release(kept[i]);
        *kept[i] = shapes[i];
        shapes[i] = (Shape){NULL, {NULL}, {0}, 0}; /* kept[i] holds its references now */
    }
    for (int i = 0; i < EVENT_TYPE_COUNT; i++) {
        Py_CLEAR(EVENT_TYPES[i].str);
    }
    for (int i = 0; i < type_count; i++) {
        EVENT_TYPES[i] = types[i];
        types[i].str = NULL; /* EVENT_TYPES holds it now */
        EVENT_RANKS[i] = ranks[i];
        EVENT_STARTS[i] = starts[i];
        EVENT_ENDS[i] = ends[i];
    }
    EVENT_TYPE_COUNT = type_count;
    SET_UP = ok = 1;
done:
    for (int i = 0; i < NAME_COUNT; i++) {
        Py_XDECREF(names[i].str);
    }
    for (int i = 0; i < MAX_EVENT_TYPES; i++) {
        Py_XDECREF(types[i].str);
    }
    for (int i = 0; i < 4; i++) {
        shape_release(&shapes[i]);
    }
    return ok ? Py_NewRef(Py_None) : NULL;
}

static PyMethodDef methods[] = {
    {"setup", (PyCFunction)(void (*)(void))setup, METH_VARARGS | METH_KEYWORDS,
     "setup(**facts): every fact the loops use, from ripple/graph/native.py"},
    {"apply", (PyCFunction)(void (*)(void))apply, METH_FASTCALL,
     "apply(index, ids, kinds, records, out, inc, edges, columns, delta): MemoryGraph.apply"},
    {"project_many", (PyCFunction)(void (*)(void))project_many, METH_FASTCALL,
     "project_many(bodies, memo, parser) -> [project(decoded body) or None, ...]"},
    {"project", (PyCFunction)(void (*)(void))project, METH_FASTCALL,
     "project(event, memo, parser) -> the GraphDelta of a decoded event's common shape, or None"},
    {"schema", schema, METH_O,
     "schema(raw) -> the (name, type, description) fields of a schema facet's JSON, or None"},
    {"lineage", lineage, METH_O,
     "lineage(raw) -> (entries, fields) of a columnLineage facet's JSON, or None to decline"},
    {"depth", (PyCFunction)(void (*)(void))depth, METH_FASTCALL,
     "depth(body, limit) -> the offset of the first bracket nested deeper than limit, or -1"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "ripple._native",
                                        "Ripple's ingest loops in C (see _native.c).", -1,
                                        methods};

PyMODINIT_FUNC PyInit__native(void) {
    if (S_EMPTY == NULL && !(S_EMPTY = PyUnicode_InternFromString(""))) {
        return NULL;
    }
    return PyModule_Create(&module_def);
}
