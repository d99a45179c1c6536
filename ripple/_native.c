/* ripple._native: the hottest loops of file ingest, in C.

   Each does exactly what a Python function beside it does, and the tests check that they agree
   (tests/unit/test_native.py):

   - apply(graph, delta) is MemoryGraph.apply (ripple/graph/memory.py): a delta's nodes, edges
     and column facts merged into the in-memory graph;
   - schema(raw) is fastparse._schema_fields: a schema facet's JSON to its fields, nested ones
     flattened to "parent.child", or None to decline;
   - lineage(raw) is fastparse._lineage_entries: a columnLineage facet's JSON (already checked to
     be valid JSON by msgspec) to its LineageEntry tuples and output fields, or None to decline
     anything unusual, which the Python parser then reads and, if need be, rejects.

   Python keeps every decision that is not in these loops (a tie between two values of one
   stamp, an id of no known kind: the loops call back); without this module (no C compiler
   when installing), Ripple runs the Python versions and is only slower. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <structmember.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Set once by setup(): the codes and types the loops need (see ripple/graph/codes.py). */
static long DATASET_CODE = -1, COLUMN_CODE, HAS_COLUMN, DIRECT, INDIRECT;
static PyTypeObject *LINEAGE_ENTRY = NULL;
static PyObject *S_DATASET, *S_SCHEMA, *S_LINEAGE, *S_LINEAGE_DIGEST;
static PyObject *S_DIRECT, *S_INDIRECT, *S_S, *S_L, *S_EMPTY, *S_COLON, *S_COLUMN_PREFIX,
    *S_DATASET_PREFIX, *S_RUN_PREFIX, *S_JOB_PREFIX;
static PyObject *S_INDEX, *S_IDS, *S_KINDS, *S_RECORDS, *S_OUT, *S_INC, *S_EDGES, *S_COLUMNS;

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

/* -- column facts (MemoryGraph._apply_columns) ------------------------------------------------------------------------- */

typedef struct {
    PyObject *index, *ids, *kinds, *records, *out, *inc, *edges, *columns; /* held for a call */
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
    if (find_version(versions, S_S, PyTuple_GET_ITEM(schema, 1), &key, &found) < 0) {
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
            PyObject *column_id = PyUnicode_Concat(prefix, PyTuple_GET_ITEM(field, 0));
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
    if (find_version(versions, S_L, digest, &key, &found) < 0) {
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
            dst_id = PyUnicode_Concat(prefix, dst_field == Py_None ? S_EMPTY : dst_field);
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
        int direct = kind == S_DIRECT || PyUnicode_Compare(kind, S_DIRECT) == 0;
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
    if (!(ds_id = PyObject_GetAttr(facts, S_DATASET)) || !(schema = PyObject_GetAttr(facts, S_SCHEMA)) ||
        !(entries = PyObject_GetAttr(facts, S_LINEAGE)) ||
        !(digest = PyObject_GetAttr(facts, S_LINEAGE_DIGEST))) {
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
    /* a column id is its dataset's id ("dataset:<ns>:<name>") plus ":<field>" */
    if (!(tail = PyUnicode_Substring(ds_id, 8, PY_SSIZE_T_MAX)) ||
        !(prefix = join((PyObject *[]){S_COLUMN_PREFIX, tail, S_COLON}, 3))) {
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

static int graph_part(PyObject *graph, PyObject *name, PyObject **slot, PyTypeObject *type) {
    PyObject *value = PyObject_GetAttr(graph, name); /* held until graph_release */
    if (value == NULL) {
        return -1;
    }
    *slot = value;
    if (Py_TYPE(value) != type) {
        PyErr_Format(PyExc_TypeError, "apply: graph.%U is not a %s", name, type->tp_name);
        return -1;
    }
    return 0;
}

static void graph_release(Graph *g) {
    Py_CLEAR(g->index);
    Py_CLEAR(g->ids);
    Py_CLEAR(g->kinds);
    Py_CLEAR(g->records);
    Py_CLEAR(g->out);
    Py_CLEAR(g->inc);
    Py_CLEAR(g->edges);
    Py_CLEAR(g->columns);
}

/* The graph's parts, each a strong reference (graph_release drops them); -1 on error, with
   whatever was taken released. */
static int graph_parts(PyObject *graph, Graph *g) {
    *g = (Graph){NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    int rc = graph_part(graph, S_INDEX, &g->index, &PyDict_Type) < 0 ||
                   graph_part(graph, S_IDS, &g->ids, &PyList_Type) < 0 ||
                   graph_part(graph, S_KINDS, &g->kinds, &PyByteArray_Type) < 0 ||
                   graph_part(graph, S_RECORDS, &g->records, &PyList_Type) < 0 ||
                   graph_part(graph, S_OUT, &g->out, &PyList_Type) < 0 ||
                   graph_part(graph, S_INC, &g->inc, &PyList_Type) < 0 ||
                   graph_part(graph, S_EDGES, &g->edges, &PyDict_Type) < 0 ||
                   graph_part(graph, S_COLUMNS, &g->columns, &PyDict_Type) < 0
               ? -1
               : 0;
    if (rc < 0) {
        graph_release(g);
    }
    return rc;
}

/* -- apply: MemoryGraph.apply for a whole delta -------------------------------------------------- */

static PyObject *NODE_KINDS = NULL;   /* tuple: the NodeKind member of each node code */
static PyObject *EDGE_CODES = NULL;   /* tuple: (EdgeKind member, variant) of each edge code */
static PyObject *PREFIX_CODES = NULL; /* dict: "dataset" -> its node code, ... */
static PyObject *WINS = NULL;         /* memory._wins: the tie-break of two values of one stamp */
static PyObject *KIND_OF = NULL;      /* memory._kind_of: raises for an id of no known kind */
static PyObject *S_ID, *S_KIND, *S_PROPS, *S_SRC, *S_DST, *S_VARIANT, *S_STAMP, *S_RUN, *S_NODES;

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
    /* the node code its id's prefix names ("dataset:..." -> dataset), as memory._kind_of */
    Py_ssize_t colon = PyUnicode_FindChar(node_id, ':', 0, PyUnicode_GET_LENGTH(node_id), 1);
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
    PyObject *id = PyObject_GetAttr(node, S_ID), *kind = PyObject_GetAttr(node, S_KIND),
             *props = get_dict(node, S_PROPS);
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
    PyObject *src_id = PyObject_GetAttr(edge, S_SRC), *dst_id = PyObject_GetAttr(edge, S_DST),
             *kind = PyObject_GetAttr(edge, S_KIND), *variant = PyObject_GetAttr(edge, S_VARIANT),
             *props = get_dict(edge, S_PROPS), *key = NULL;
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
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "apply(graph, delta)");
        return NULL;
    }
    if (NODE_KINDS == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ripple._native.setup() was not called");
        return NULL;
    }
    Graph g;
    if (graph_parts(args[0], &g) < 0) {
        return NULL;
    }
    PyObject *delta = args[1], *result = NULL, *time = NULL;
    PyObject *stamp = PyObject_GetAttr(delta, S_STAMP), *run = PyObject_GetAttr(delta, S_RUN),
             *nodes = PyObject_GetAttr(delta, S_NODES), *edges = PyObject_GetAttr(delta, S_EDGES),
             *columns = PyObject_GetAttr(delta, S_COLUMNS);
    if (!stamp || !run || !nodes || !edges || !columns) {
        goto done;
    }
    if (!PyUnicode_Check(stamp) || !(run == Py_None || PyUnicode_Check(run)) ||
        !PyList_Check(nodes) || !PyList_Check(edges) || !PyList_Check(columns)) {
        PyErr_SetString(PyExc_TypeError, "apply: a malformed GraphDelta");
        goto done;
    }
    /* the stamp is "<time>|<rank>" */
    Py_ssize_t bar = PyUnicode_FindChar(stamp, '|', 0, PyUnicode_GET_LENGTH(stamp), 1);
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
    graph_release(&g);
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

static int is_key(const Span *s, const char *key, size_t n) {
    return !s->escaped && (size_t)s->len == n && memcmp(s->start, key, n) == 0;
}

#define is(span, key) is_key(span, key, sizeof(key) - 1) /* key: a string literal */

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

/* DIRECT or INDIRECT, whatever the case, as `type.upper()` would match; NULL otherwise
   (non-ASCII text declines: Python's upper() maps a few letters of other scripts to ASCII). */
static PyObject *transformation_type(const Span *type) {
    char upper[9];
    if (type->start == NULL || type->escaped || (type->len != 6 && type->len != 8)) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < type->len; i++) {
        char ch = type->start[i];
        upper[i] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
    }
    upper[type->len] = 0;
    return strcmp(upper, "DIRECT") == 0 ? S_DIRECT : strcmp(upper, "INDIRECT") == 0 ? S_INDIRECT : NULL;
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
        if (is(&key, "type")) {
            ok = type.start == NULL && string(c, &type);
        } else if (is(&key, "subtype")) {
            ok = subtype == NULL && shared_text(c, t, &subtype);
        } else if (is(&key, "description")) {
            ok = description == NULL && shared_text(c, t, &description);
        } else if (is(&key, "masking")) {
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
static PyObject *node_id(const char *prefix, const Span *a, const Span *b, const Span *c) {
    size_t p = strlen(prefix), n = p + a->len + 1 + b->len + (c ? 1 + c->len : 0);
    char small[512], *buf = n <= sizeof small ? small : PyMem_Malloc(n);
    if (buf == NULL) {
        return PyErr_NoMemory();
    }
    char *w = buf;
    memcpy(w, prefix, p);
    w += p;
    memcpy(w, a->start, a->len);
    w += a->len;
    *w++ = ':';
    memcpy(w, b->start, b->len);
    w += b->len;
    if (c != NULL) {
        *w++ = ':';
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
    if (t->dataset == NULL) {
        PyObject *dataset = node_id("dataset:", ns, name, NULL);
        t->dataset = dataset ? shared(t->ids, dataset) : NULL;
        if (t->dataset != NULL) {
            remember(t->datasets, &t->next_dataset, ns, name, t->dataset);
        }
    }
    t->column = t->dataset ? node_id("datasetField:", ns, name, field) : NULL;
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
        Span *slot = is(&key, "namespace") ? &ns
                     : is(&key, "name")    ? &name
                     : is(&key, "field")   ? &field
                                           : NULL;
        if (slot != NULL) { /* a Name: a non-empty string without escapes, given once */
            ok = slot->start == NULL && string(c, slot) && slot->len > 0 && !slot->escaped;
        } else if (is(&key, "transformations")) {
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
        if (is(&key, "inputFields")) {
            ok = !inputs;
            inputs = 1;
            if (ok) {
                rc = input_list(c, t, S_DIRECT);
                ok = rc == 1;
            }
        } else if (is(&key, "transformationType") || is(&key, "transformationDescription")) {
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
    if (LINEAGE_ENTRY == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ripple._native.setup() was not called");
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
        if (is(&key, "fields")) {
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
        } else if (is(&key, "dataset")) {
            rc = !seen_dataset;
            seen_dataset = 1;
            if (rc == 1 && !literal(&c, "null")) {
                t.dst = Py_None;
                t.entries = indirect;
                rc = input_list(&c, &t, S_INDIRECT);
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
            if (is(&key, "name")) {
                ok = name.start == NULL && string(c, &name) && name.len > 0 && !name.escaped;
            } else if (is(&key, "type")) {
                ok = type == NULL && optional_text(c, &type);
            } else if (is(&key, "description")) {
                ok = description == NULL && optional_text(c, &description);
            } else if (is(&key, "fields")) {
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
            PyObject *child_prefix = PyUnicode_FromFormat("%U.", full);
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
            } else if (is(&key, "fields")) {
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

static PyObject *P_DIGEST = NULL;           /* columns._digest: bytes -> hex str */
static PyTypeObject *SCHEMA_TYPE = NULL;    /* graph.delta.Schema (a named tuple) */
static PyTypeObject *LINEAGE_TYPE = NULL;   /* ingest.columns.Lineage (a named tuple) */
static PyObject *P_DECODE = NULL;           /* fastparse._EVENT.decode */
static PyObject *P_DECLINES = NULL;         /* the exceptions that mean "take the Python path" */
static PyObject *RECORD_PREFIX = NULL;      /* bytes a sync record starts with */
static PyObject *A_SEEN, *A_CAPACITY;

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

/* columns._digest of the buffer; NULL on error. */
static PyObject *digest_of(Buf *b) {
    PyObject *data = PyBytes_FromStringAndSize(b->data, b->len);
    PyObject *digest = data ? PyObject_CallOneArg(P_DIGEST, data) : NULL;
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
static PyObject *schema_value(PyObject *fields) {
    Buf b = {NULL, 0, 0};
    int rc = put_rows(&b, fields);
    PyObject *value = NULL;
    if (rc == 1) {
        PyObject *digest = digest_of(&b);
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
static PyObject *lineage_value(PyObject *entries, PyObject *fields) {
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
    if (rc == 1 && (digest = digest_of(&b)) != NULL && (sources = PyFrozenSet_New(NULL)) != NULL) {
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
            value = named_tuple(LINEAGE_TYPE, items, 5);
        }
    } else if (rc == 0) {
        value = Py_NewRef(Py_None);
    }
    Py_XDECREF(digest);
    Py_XDECREF(sources);
    PyMem_Free(b.data);
    return value;
}

/* The Schema (tag 's') or Lineage (tag 'l') of a facet's raw JSON, as fastparse._schema and
   _lineage give it: from the memo when its exact bytes were seen, else read here and
   remembered; what the readers decline goes to `fallback(raw, memo)` in Python. */
static PyObject *facet_value(PyObject *raw, PyObject *memo, char tag, PyObject *fallback) {
    Py_buffer view;
    if (PyObject_GetBuffer(raw, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    PyObject *key = PyBytes_FromStringAndSize(NULL, view.len + 1), *seen = NULL, *value = NULL;
    long capacity = 0;
    PyTypeObject *type = tag == 's' ? SCHEMA_TYPE : LINEAGE_TYPE;
    if (key != NULL) {
        PyBytes_AS_STRING(key)[0] = tag;
        memcpy(PyBytes_AS_STRING(key) + 1, view.buf, view.len);
    }
    if (key != NULL && memo != Py_None) {
        seen = PyObject_GetAttr(memo, A_SEEN);
        PyObject *limit = seen ? PyObject_GetAttr(memo, A_CAPACITY) : NULL;
        capacity = limit ? PyLong_AsLong(limit) : -1;
        Py_XDECREF(limit);
        if (seen != NULL && !PyDict_Check(seen)) {
            PyErr_SetString(PyExc_TypeError, "project: the memo's _seen is not a dict");
        }
        if (!PyErr_Occurred()) {
            PyObject *found = PyDict_GetItemWithError(seen, key);
            if (found != NULL && Py_TYPE(found) == type) {
                value = Py_NewRef(found);
            }
        }
    }
    if (value == NULL && key != NULL && !PyErr_Occurred()) {
        PyObject *read = tag == 's' ? schema(NULL, raw) : lineage(NULL, raw);
        if (read != NULL && read != Py_None) {
            value = tag == 's' ? schema_value(read)
                               : lineage_value(PyTuple_GET_ITEM(read, 0), PyTuple_GET_ITEM(read, 1));
        }
        if (read == Py_None || value == Py_None) { /* declined: Python reads it (and remembers) */
            Py_CLEAR(value);
            value = PyObject_CallFunctionObjArgs(fallback, raw, memo, NULL);
        } else if (value != NULL && seen != NULL) {
            if (PyDict_GET_SIZE(seen) >= capacity) {
                PyDict_Clear(seen);
            }
            if (PyDict_SetItem(seen, key, value) < 0) {
                Py_CLEAR(value);
            }
        }
        Py_XDECREF(read);
    }
    Py_XDECREF(key);
    Py_XDECREF(seen);
    PyBuffer_Release(&view);
    return value;
}

/* -- project: a decoded event's common shape straight to its GraphDelta ----------------------- */

/* The delta's classes are dataclasses with __slots__: an instance is allocated and its slots
   filled directly (what their generated __init__ would do, without running Python). */
typedef struct {
    PyTypeObject *type;
    Py_ssize_t offsets[5];
    int count;
} Shape;

static Shape DELTA, NODE_UPSERT, EDGE_UPSERT, COLUMN_FACTS;
static PyObject *P_GENERIC = NULL, *P_SCHEMA = NULL, *P_LINEAGE = NULL, *P_RESOLVE = NULL;
static PyObject *P_JOB_KIND, *P_RUN_KIND, *P_DATASET_KIND;          /* NodeKind members */
static PyObject *P_READ_BY, *P_WRITES, *P_RUN_OF, *P_READ, *P_PRODUCED; /* EdgeKind members */
static PyObject *EVENT_TYPES[6];                                     /* START ... OTHER */
static const char *EVENT_TYPE_NAMES[6] = {"START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"};
static const int EVENT_RANKS[6] = {1, 2, 3, 3, 3, 0};
static PyObject *K_NAMESPACE, *K_NAME, *K_TYPE, *K_RUN_ID, *K_JOB, *K_STATE, *K_UPDATED_AT,
    *K_STARTED_AT, *K_ENDED_AT, *K_NOMINAL_START, *K_NOMINAL_END, *K_LAST_RUN,
    *K_LAST_RUN_STATE, *K_UNRESOLVED, *F_COLUMN_LINEAGE, *F_JOB_TYPE, *F_NOMINAL_TIME,
    *F_PROCESSING_TYPE, *F_INTEGRATION, *F_NOMINAL_START_TIME, *F_NOMINAL_END_TIME,
    *F_OUTPUT_STATISTICS, *K_ROW_COUNT, *K_SIZE, *K_FILE_COUNT;
static PyObject *A_EVENT_TIME, *A_EVENT_TYPE, *A_RUN, *A_JOB, *A_INPUTS, *A_OUTPUTS, *A_DATASET,
    *A_RUN_ID, *A_FACETS, *A_INPUT_FACETS, *A_OUTPUT_FACETS;
static PyObject *UNSET_VALUE = NULL; /* msgspec.UNSET */
static PyObject *S_FACET_DOT, *S_INPUT_DOT, *S_OUTPUT_DOT;

/* Facets whose shape the Python parser checks (fastparse._FACETS): this path declines them, but
   for the two it checks itself. */
static const char *TYPED_RUN[] = {"parent", "errorMessage", NULL};
static const char *TYPED_JOB[] = {"ownership", "sourceCodeLocation", "sql", NULL};
static const char *TYPED_DATASET[] = {"ownership", "version", "symlinks", "dataQualityAssertions",
                                      NULL};
static const char *TYPED_INPUT[] = {"dataQualityMetrics", NULL};
static const char *TYPED_OUTPUT[] = {NULL}; /* outputStatistics: checked here */

static int shape(Shape *s, PyObject *type, const char *const *fields) {
    if (!PyType_Check(type)) {
        PyErr_SetString(PyExc_TypeError, "setup_projection: a delta class is not a type");
        return -1;
    }
    Shape found = {(PyTypeObject *)type, {0}, 0};
    for (; fields[found.count] != NULL; found.count++) {
        PyObject *descr = PyDict_GetItemString(found.type->tp_dict, fields[found.count]);
        if (descr == NULL || Py_TYPE(descr) != &PyMemberDescr_Type ||
            ((PyMemberDescrObject *)descr)->d_member->type != T_OBJECT_EX) {
            PyErr_Format(PyExc_TypeError, "setup_projection: %s.%s is not a slot",
                         found.type->tp_name, fields[found.count]);
            return -1;
        }
        found.offsets[found.count] = ((PyMemberDescrObject *)descr)->d_member->offset;
    }
    Py_INCREF(type);
    Py_XDECREF(s->type);
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

static int in_list(PyObject *name, const char *const *names) {
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(name, &n);
    if (p == NULL) {
        PyErr_Clear();
        return 1; /* cannot tell: decline */
    }
    for (; *names != NULL; names++) {
        if ((size_t)n == strlen(*names) && memcmp(p, *names, n) == 0) {
            return 1;
        }
    }
    return 0;
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
   the typed facets this path does not check (decline). `typed`, if given, gets jobType or
   nominalTime decoded (borrowed from props). 1 = done, 0 = decline, -1 = error. */
static int facet_props(PyObject *facets, PyObject *props, PyObject *prefix, const char *const *decline,
                       PyObject **schema, PyObject **lineage, PyObject *typed_name,
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
        if (!PyUnicode_Check(name) || in_list(name, decline)) {
            return 0;
        }
        int object = starts_object(raw);
        if (object <= 0) {
            return object;
        }
        if (schema != NULL && PyUnicode_Compare(name, S_SCHEMA) == 0) {
            *schema = raw;
            continue;
        }
        if (lineage != NULL && PyUnicode_Compare(name, F_COLUMN_LINEAGE) == 0) {
            *lineage = raw;
            continue;
        }
        if (PyErr_Occurred()) {
            return -1;
        }
        PyObject *value = PyObject_CallOneArg(P_GENERIC, raw);
        if (value == NULL) {
            return -1;
        }
        /* projection keeps every facet as a property, but these two names */
        int kept = schema != NULL || (PyUnicode_Compare(name, S_SCHEMA) != 0 &&
                                      PyUnicode_Compare(name, F_COLUMN_LINEAGE) != 0);
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
    PyObject *keys[] = {K_ROW_COUNT, K_SIZE, K_FILE_COUNT};
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

static int edge_upsert(Built *b, PyObject *src, PyObject *kind, PyObject *dst) {
    PyObject *props = PyDict_New();
    if (props == NULL) {
        return -1;
    }
    PyObject *values[5] = {src, kind, dst, props, S_EMPTY};
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
static int dataset_part(Built *b, PyObject *raw, PyObject *id, PyObject *role_facets,
                        PyObject *role_prefix, const char *const *role_typed, PyObject *memo,
                        PyObject *known, PyObject **props_out) {
    PyObject *ns = PyObject_GetAttr(raw, K_NAMESPACE), *name = PyObject_GetAttr(raw, K_NAME),
             *facets = PyObject_GetAttr(raw, A_FACETS), *io = PyObject_GetAttr(raw, role_facets);
    PyObject *props = NULL, *schema = NULL, *lineage = NULL, *schema_raw = NULL,
             *lineage_raw = NULL;
    int result = -1;
    if (!ns || !name || !facets || !io) {
        goto done;
    }
    if (!(props = PyDict_New()) || !set_item(props, K_NAMESPACE, ns) ||
        !set_item(props, K_NAME, name)) {
        goto done;
    }
    int rc = facet_props(facets, props, S_FACET_DOT, TYPED_DATASET, &schema_raw, &lineage_raw,
                         NULL, NULL);
    PyObject *statistics = NULL;
    if (rc == 1) {
        rc = facet_props(io, props, role_prefix, role_typed, NULL, NULL,
                         role_typed == TYPED_OUTPUT ? F_OUTPUT_STATISTICS : NULL, &statistics);
    }
    if (rc == 1 && statistics != NULL) {
        rc = counts_only(statistics);
    }
    if (rc != 1) {
        result = rc;
        goto done;
    }
    if (!node_upsert(b, id, P_DATASET_KIND, props)) {
        goto done;
    }
    if (schema_raw != NULL && !(schema = facet_value(schema_raw, memo, 's', P_SCHEMA))) {
        goto done;
    }
    if (lineage_raw != NULL && !(lineage = facet_value(lineage_raw, memo, 'l', P_LINEAGE))) {
        goto done;
    }
    if (schema != NULL || lineage != NULL) {
        PyObject *entries = PyTuple_New(0), *digest = Py_None, *resolved = NULL;
        Py_INCREF(digest);
        if (entries != NULL && lineage != NULL) {
            resolved = PyObject_CallFunctionObjArgs(P_RESOLVE, lineage, schema ? schema : Py_None,
                                                    known, NULL);
            if (resolved != NULL && PyTuple_Check(resolved) && PyTuple_GET_SIZE(resolved) == 3) {
                PyObject *unresolved = PyTuple_GET_ITEM(resolved, 2);
                int any = PyObject_IsTrue(unresolved);
                if (any < 0 || (any && PyDict_SetItem(props, K_UNRESOLVED, unresolved) < 0)) {
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
    for (int i = 0; i < 6; i++) {
        const char *want = EVENT_TYPE_NAMES[i];
        if ((size_t)n != strlen(want)) {
            continue;
        }
        Py_ssize_t k = 0;
        while (k < n && (p[k] == want[k] || p[k] - 32 == want[k])) {
            k++;
        }
        if (k == n) {
            return i;
        }
    }
    return -2;
}

/* project(event, memo): the GraphDelta of a decoded fastparse._Event in its common shape (a run
   event naming each dataset once, no parent, error, ownership or other checked facet besides
   jobType and nominalTime, times in UTC, a canonical run id); None declines. */
static PyObject *project(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "project(event, memo)");
        return NULL;
    }
    if (P_GENERIC == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ripple._native.setup_projection() was not called");
        return NULL;
    }
    PyObject *raw = args[0], *memo = args[1], *result = NULL;
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
    GET(event_time, raw, A_EVENT_TIME);
    GET(event_type_raw, raw, A_EVENT_TYPE);
    GET(run, raw, A_RUN);
    GET(job, raw, A_JOB);
    GET(inputs, raw, A_INPUTS);
    GET(outputs, raw, A_OUTPUTS);
    GET(dataset, raw, A_DATASET);
    /* a run event, its job and run given: anything else takes the Python path */
    if (dataset != UNSET_VALUE || run == Py_None || run == UNSET_VALUE || job == Py_None ||
        job == UNSET_VALUE || !(inputs == Py_None || PyList_Check(inputs)) ||
        !(outputs == Py_None || PyList_Check(outputs))) {
        goto decline;
    }
    int type_at = event_type_index(event_type_raw);
    if (type_at == -2) {
        goto decline;
    }
    PyObject *event_type = type_at >= 0 ? EVENT_TYPES[type_at] : Py_None;
    int rc = utc_time(event_time, 1, &time);
    if (rc <= 0) {
        goto end;
    }
    if (!(stamp = PyUnicode_FromFormat("%U|%d", time, type_at >= 0 ? EVENT_RANKS[type_at] : 0))) {
        goto done;
    }
    GET(run_id_text, run, A_RUN_ID);
    if ((rc = run_uuid(run_id_text, &run_uuid_text)) <= 0) {
        goto end;
    }
    if (!(run_node = join((PyObject *[]){S_RUN_PREFIX, run_uuid_text}, 2))) {
        goto done;
    }
    GET(job_ns, job, K_NAMESPACE);
    GET(job_name, job, K_NAME);
    GET(job_facets, job, A_FACETS);
    GET(run_facets, run, A_FACETS);
    if (!(job_id = join((PyObject *[]){S_JOB_PREFIX, job_ns, S_COLON, job_name}, 4))) {
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
            ns = PyObject_GetAttr(item, K_NAMESPACE);
            name = ns ? PyObject_GetAttr(item, K_NAME) : NULL;
            id = name ? join((PyObject *[]){S_DATASET_PREFIX, ns, S_COLON, name}, 4) : NULL;
            int added = id == NULL ? -1 : PySet_Add(known, id);
            if (added == 0) {
                added = PyList_Append(dataset_ids, id);
            }
            Py_XDECREF(ns);
            Py_XDECREF(name);
            Py_XDECREF(id);
            if (added < 0) {
                goto done;
            }
        }
    }
    if (PySet_GET_SIZE(known) != PyList_GET_SIZE(dataset_ids)) {
        goto decline;
    }
    /* the job */
    if (!(job_props = PyDict_New()) || !set_item(job_props, K_NAMESPACE, job_ns) ||
        !set_item(job_props, K_NAME, job_name)) {
        goto done;
    }
    PyObject *job_type = NULL;
    {
        /* "type" goes in before the facets, as projection puts it */
        PyObject *scratch = PyDict_New();
        if (scratch == NULL) {
            goto done;
        }
        rc = facet_props(job_facets, scratch, S_FACET_DOT, TYPED_JOB, NULL, NULL, F_JOB_TYPE,
                         &job_type);
        if (rc == 1 && job_type != NULL && PyDict_Check(job_type) && PyDict_GET_SIZE(job_type) > 0) {
            PyObject *kind, *processing, *integration;
            rc = optional_str(job_type, F_JOB_TYPE, &kind);
            if (rc == 1) {
                rc = optional_str(job_type, F_PROCESSING_TYPE, &processing);
            }
            if (rc == 1) {
                rc = optional_str(job_type, F_INTEGRATION, &integration);
            }
            if (rc == 1) {
                PyObject *chosen = (kind != Py_None && PyUnicode_GET_LENGTH(kind) > 0) ? kind : processing;
                if (chosen != Py_None && PyDict_SetItem(job_props, K_TYPE, chosen) < 0) {
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
    if (!node_upsert(&b, job_id, P_JOB_KIND, job_props)) {
        goto done;
    }
    /* the run */
    if (!(run_props = PyDict_New()) || !set_item(run_props, K_RUN_ID, run_uuid_text) ||
        !set_item(run_props, K_JOB, job_id)) {
        goto done;
    }
    if (event_type != Py_None) {
        if (!set_item(run_props, K_STATE, event_type) || !set_item(run_props, K_UPDATED_AT, time)) {
            goto done;
        }
        if (type_at == 0 && !set_item(run_props, K_STARTED_AT, time)) {
            goto done;
        }
        if (type_at >= 2 && type_at <= 4 && !set_item(run_props, K_ENDED_AT, time)) {
            goto done;
        }
    }
    {
        PyObject *nominal = NULL, *scratch = PyDict_New();
        if (scratch == NULL) {
            goto done;
        }
        rc = facet_props(run_facets, scratch, S_FACET_DOT, TYPED_RUN, NULL, NULL, F_NOMINAL_TIME,
                         &nominal);
        if (rc == 1 && nominal != NULL) {
            PyObject *start = PyDict_Check(nominal) ? PyDict_GetItemWithError(nominal, F_NOMINAL_START_TIME) : NULL;
            PyObject *end_text = NULL;
            rc = PyErr_Occurred() ? -1 : 0;
            if (start != NULL && PyUnicode_Check(start) && PyUnicode_GET_LENGTH(start) > 0) {
                rc = optional_str(nominal, F_NOMINAL_END_TIME, &end_text);
                if (rc == 1) {
                    rc = utc_time(start, 0, &nominal_start);
                }
                if (rc == 1 && end_text != Py_None && PyUnicode_GET_LENGTH(end_text) > 0) {
                    rc = utc_time(end_text, 0, &nominal_end);
                }
                if (rc == 1 && (!set_item(run_props, K_NOMINAL_START, nominal_start) ||
                                (nominal_end && !set_item(run_props, K_NOMINAL_END, nominal_end)))) {
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
    if (!node_upsert(&b, run_node, P_RUN_KIND, run_props) ||
        edge_upsert(&b, run_node, P_RUN_OF, job_id) < 0) {
        goto done;
    }
    if (event_type != Py_None && (!set_item(job_props, K_LAST_RUN, run_node) ||
                                  !set_item(job_props, K_LAST_RUN_STATE, event_type))) {
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
            rc = dataset_part(&b, PyList_GET_ITEM(list, i), id,
                              side == 0 ? A_INPUT_FACETS : A_OUTPUT_FACETS,
                              side == 0 ? S_INPUT_DOT : S_OUTPUT_DOT,
                              side == 0 ? TYPED_INPUT : TYPED_OUTPUT, memo, known, &props);
            if (rc <= 0) {
                goto end;
            }
            int ok = side == 0 ? edge_upsert(&b, id, P_READ_BY, job_id) == 0 &&
                                     edge_upsert(&b, run_node, P_READ, id) == 0
                               : edge_upsert(&b, job_id, P_WRITES, id) == 0 &&
                                     edge_upsert(&b, run_node, P_PRODUCED, id) == 0;
            if (ok && side == 1 && event_type != Py_None) {
                ok = set_item(props, K_LAST_RUN, run_node) &&
                     set_item(props, K_LAST_RUN_STATE, event_type);
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

/* project_many(bodies, memo): [project(decode(body), memo) or None for each body], where None
   also stands for a body the decoder refuses or the parser's helpers decline (the exceptions
   given as `declines`) and for a sync record; the caller takes the Python path for those. */
static PyObject *project_many(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "project_many(bodies: list[bytes], memo)");
        return NULL;
    }
    if (P_DECODE == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ripple._native.setup_projection() was not called");
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
        Py_ssize_t p = PyBytes_GET_SIZE(RECORD_PREFIX);
        if (PyBytes_GET_SIZE(body) >= p &&
            memcmp(PyBytes_AS_STRING(body), PyBytes_AS_STRING(RECORD_PREFIX), p) == 0) {
            delta = Py_NewRef(Py_None);
        } else {
            PyObject *event = PyObject_CallOneArg(P_DECODE, body);
            if (event != NULL) {
                PyObject *pair[2] = {event, memo};
                delta = project(module, pair, 2);
                Py_DECREF(event);
            }
            if (delta == NULL && PyErr_ExceptionMatches(P_DECLINES)) {
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

static PyObject *setup_projection(PyObject *module, PyObject *args, PyObject *kwargs) {
    (void)module;
    static char *names[] = {"generic", "schema", "lineage", "resolve", "unset", "delta", "node",
                            "edge", "facts", "node_kinds", "edge_kinds", "digest", "schema_type",
                            "lineage_type", "decode", "declines", "record_prefix", NULL};
    PyObject *generic, *schema_fn, *lineage_fn, *resolve, *unset, *delta, *node, *edge, *facts,
        *node_kinds, *edge_kinds, *digest, *schema_type, *lineage_type, *decode, *declines,
        *record_prefix;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "$OOOOOOOOOO!O!OO!O!OO!O!", names, &generic,
                                     &schema_fn, &lineage_fn, &resolve, &unset, &delta, &node,
                                     &edge, &facts, &PyTuple_Type, &node_kinds, &PyTuple_Type,
                                     &edge_kinds, &digest, &PyType_Type, &schema_type,
                                     &PyType_Type, &lineage_type, &decode, &PyTuple_Type,
                                     &declines, &PyBytes_Type, &record_prefix)) {
        return NULL;
    }
    if (!PyType_IsSubtype((PyTypeObject *)schema_type, &PyTuple_Type) ||
        !PyType_IsSubtype((PyTypeObject *)lineage_type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "setup_projection: Schema and Lineage are named tuples");
        return NULL;
    }
    PyObject **more[] = {&P_DIGEST, (PyObject **)&SCHEMA_TYPE, (PyObject **)&LINEAGE_TYPE,
                         &P_DECODE, &P_DECLINES, &RECORD_PREFIX};
    PyObject *values[] = {digest, schema_type, lineage_type, decode, declines, record_prefix};
    for (int i = 0; i < 6; i++) {
        Py_INCREF(values[i]);
        Py_XSETREF(*more[i], values[i]);
    }
    if (PyTuple_GET_SIZE(node_kinds) != 3 || PyTuple_GET_SIZE(edge_kinds) != 5) {
        PyErr_SetString(PyExc_TypeError,
                        "setup_projection: node_kinds is (job, run, dataset), edge_kinds "
                        "(READ_BY, WRITES, RUN_OF, READ, PRODUCED)");
        return NULL;
    }
    static const char *delta_fields[] = {"stamp", "run", "nodes", "edges", "columns", NULL};
    static const char *node_fields[] = {"id", "kind", "props", NULL};
    static const char *edge_fields[] = {"src", "kind", "dst", "props", "variant", NULL};
    static const char *facts_fields[] = {"dataset", "schema", "lineage", "lineage_digest", NULL};
    if (shape(&DELTA, delta, delta_fields) < 0 || shape(&NODE_UPSERT, node, node_fields) < 0 ||
        shape(&EDGE_UPSERT, edge, edge_fields) < 0 ||
        shape(&COLUMN_FACTS, facts, facts_fields) < 0) {
        return NULL;
    }
    PyObject **slots[] = {&P_GENERIC, &P_SCHEMA, &P_LINEAGE, &P_RESOLVE, &UNSET_VALUE};
    PyObject *given[] = {generic, schema_fn, lineage_fn, resolve, unset};
    for (int i = 0; i < 5; i++) {
        Py_INCREF(given[i]);
        Py_XSETREF(*slots[i], given[i]);
    }
    PyObject **kinds[] = {&P_JOB_KIND, &P_RUN_KIND, &P_DATASET_KIND};
    for (int i = 0; i < 3; i++) {
        Py_XSETREF(*kinds[i], Py_NewRef(PyTuple_GET_ITEM(node_kinds, i)));
    }
    PyObject **edges[] = {&P_READ_BY, &P_WRITES, &P_RUN_OF, &P_READ, &P_PRODUCED};
    for (int i = 0; i < 5; i++) {
        Py_XSETREF(*edges[i], Py_NewRef(PyTuple_GET_ITEM(edge_kinds, i)));
    }
    Py_RETURN_NONE;
}

/* -- module ----------------------------------------------------------------------------------- */

static PyObject *setup(PyObject *module, PyObject *args, PyObject *kwargs) {
    (void)module;
    static char *names[] = {"dataset", "column", "has_column", "direct", "indirect",
                            "lineage_entry", "node_kinds", "edge_codes", "prefix_codes",
                            "wins", "kind_of", NULL};
    PyObject *entry_type, *node_kinds, *edge_codes, *prefix_codes, *wins, *kind_of;
    long dataset, column, has_column, direct, indirect;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "$lllllO!O!O!O!OO", names, &dataset, &column,
                                     &has_column, &direct, &indirect, &PyType_Type, &entry_type,
                                     &PyTuple_Type, &node_kinds, &PyTuple_Type, &edge_codes,
                                     &PyDict_Type, &prefix_codes, &wins, &kind_of)) {
        return NULL;
    }
    if (!PyType_IsSubtype((PyTypeObject *)entry_type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "setup: lineage_entry must be a tuple type");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(edge_codes); i++) {
        PyObject *pair = PyTuple_GET_ITEM(edge_codes, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !PyUnicode_Check(PyTuple_GET_ITEM(pair, 1))) {
            PyErr_SetString(PyExc_TypeError, "setup: edge_codes holds (kind, variant) pairs");
            return NULL;
        }
    }
    DATASET_CODE = dataset;
    COLUMN_CODE = column;
    HAS_COLUMN = has_column;
    DIRECT = direct;
    INDIRECT = indirect;
    Py_INCREF(entry_type);
    Py_XSETREF(LINEAGE_ENTRY, (PyTypeObject *)entry_type);
    Py_INCREF(node_kinds);
    Py_XSETREF(NODE_KINDS, node_kinds);
    Py_INCREF(edge_codes);
    Py_XSETREF(EDGE_CODES, edge_codes);
    Py_INCREF(prefix_codes);
    Py_XSETREF(PREFIX_CODES, prefix_codes);
    Py_INCREF(wins);
    Py_XSETREF(WINS, wins);
    Py_INCREF(kind_of);
    Py_XSETREF(KIND_OF, kind_of);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"setup", (PyCFunction)(void (*)(void))setup, METH_VARARGS | METH_KEYWORDS,
     "setup(**codes): the graph's codes and the Python helpers the loops call (see native.py)"},
    {"apply", (PyCFunction)(void (*)(void))apply, METH_FASTCALL,
     "apply(graph, delta): MemoryGraph.apply in C"},
    {"setup_projection", (PyCFunction)(void (*)(void))setup_projection,
     METH_VARARGS | METH_KEYWORDS,
     "setup_projection(**helpers): the delta classes and the parser's helpers project() calls"},
    {"project_many", (PyCFunction)(void (*)(void))project_many, METH_FASTCALL,
     "project_many(bodies, memo) -> [project(decoded body) or None, ...]"},
    {"project", (PyCFunction)(void (*)(void))project, METH_FASTCALL,
     "project(event, memo) -> the GraphDelta of a decoded event's common shape, or None"},
    {"schema", schema, METH_O,
     "schema(raw) -> the (name, type, description) fields of a schema facet's JSON, or None"},
    {"lineage", lineage, METH_O,
     "lineage(raw) -> (entries, fields) of a columnLineage facet's JSON, or None to decline"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "ripple._native",
                                        "Ripple's ingest loops in C (see _native.c).", -1,
                                        methods};

PyMODINIT_FUNC PyInit__native(void) {
#define STR(var, text)                                                                     \
    if (!(var = PyUnicode_InternFromString(text))) {                                       \
        return NULL;                                                                       \
    }
    STR(S_DATASET, "dataset");
    STR(S_SCHEMA, "schema");
    STR(S_LINEAGE, "lineage");
    STR(S_LINEAGE_DIGEST, "lineage_digest");
    STR(S_DIRECT, "DIRECT");
    STR(S_INDIRECT, "INDIRECT");
    STR(S_S, "s");
    STR(S_L, "l");
    STR(S_EMPTY, "");
    STR(S_COLON, ":");
    STR(S_COLUMN_PREFIX, "datasetField:");
    STR(S_DATASET_PREFIX, "dataset:");
    STR(S_RUN_PREFIX, "run:");
    STR(S_JOB_PREFIX, "job:");
    STR(S_INDEX, "index");
    STR(S_IDS, "ids");
    STR(S_KINDS, "kinds");
    STR(S_RECORDS, "records");
    STR(S_OUT, "out");
    STR(S_INC, "inc");
    STR(S_EDGES, "edges");
    STR(S_COLUMNS, "columns");
    STR(S_ID, "id");
    STR(S_KIND, "kind");
    STR(S_PROPS, "props");
    STR(S_SRC, "src");
    STR(S_DST, "dst");
    STR(S_VARIANT, "variant");
    STR(S_STAMP, "stamp");
    STR(S_RUN, "run");
    STR(S_NODES, "nodes");
    STR(K_NAMESPACE, "namespace");
    STR(K_NAME, "name");
    STR(K_TYPE, "type");
    STR(K_RUN_ID, "run_id");
    STR(K_JOB, "job");
    STR(K_STATE, "state");
    STR(K_UPDATED_AT, "updated_at");
    STR(K_STARTED_AT, "started_at");
    STR(K_ENDED_AT, "ended_at");
    STR(K_NOMINAL_START, "nominal_start");
    STR(K_NOMINAL_END, "nominal_end");
    STR(K_LAST_RUN, "last_run");
    STR(K_LAST_RUN_STATE, "last_run_state");
    STR(K_UNRESOLVED, "unresolved_column_inputs");
    STR(F_COLUMN_LINEAGE, "columnLineage");
    STR(F_JOB_TYPE, "jobType");
    STR(F_NOMINAL_TIME, "nominalTime");
    STR(F_PROCESSING_TYPE, "processingType");
    STR(F_INTEGRATION, "integration");
    STR(F_NOMINAL_START_TIME, "nominalStartTime");
    STR(F_NOMINAL_END_TIME, "nominalEndTime");
    STR(F_OUTPUT_STATISTICS, "outputStatistics");
    STR(K_ROW_COUNT, "rowCount");
    STR(K_SIZE, "size");
    STR(K_FILE_COUNT, "fileCount");
    STR(A_EVENT_TIME, "eventTime");
    STR(A_EVENT_TYPE, "eventType");
    STR(A_RUN, "run");
    STR(A_JOB, "job");
    STR(A_INPUTS, "inputs");
    STR(A_OUTPUTS, "outputs");
    STR(A_DATASET, "dataset");
    STR(A_RUN_ID, "runId");
    STR(A_FACETS, "facets");
    STR(A_INPUT_FACETS, "inputFacets");
    STR(A_OUTPUT_FACETS, "outputFacets");
    STR(S_FACET_DOT, "facet.");
    STR(A_SEEN, "_seen");
    STR(A_CAPACITY, "_capacity");
    STR(S_INPUT_DOT, "input.");
    STR(S_OUTPUT_DOT, "output.");
    for (int i = 0; i < 6; i++) {
        STR(EVENT_TYPES[i], EVENT_TYPE_NAMES[i]);
    }
#undef STR
    return PyModule_Create(&module_def);
}
