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

/* Set once by setup(): the codes and types the loops need (see ripple/graph/codes.py). */
static long DATASET_CODE = -1, COLUMN_CODE, HAS_COLUMN, DIRECT, INDIRECT;
static PyTypeObject *LINEAGE_ENTRY = NULL;
static PyObject *S_DATASET, *S_SCHEMA, *S_LINEAGE, *S_LINEAGE_DIGEST;
static PyObject *S_DIRECT, *S_INDIRECT, *S_S, *S_L, *S_EMPTY;
static PyObject *S_INDEX, *S_IDS, *S_KINDS, *S_RECORDS, *S_OUT, *S_INC, *S_EDGES, *S_COLUMNS;

/* -- column facts (MemoryGraph._apply_columns) ------------------------------------------------------------------------- */

typedef struct {
    PyObject *index, *ids, *kinds, *records, *out, *inc, *edges, *columns; /* borrowed */
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
    return PyLong_AsSsize_t(found);
}

static int str_or_empty_gt(PyObject *a, PyObject *b) {
    /* (a or "") > (b or "") */
    return PyObject_RichCompareBool(a == Py_None ? S_EMPTY : a, b == Py_None ? S_EMPTY : b, Py_GT);
}

/* memory._touch: keep the earliest time, and the latest stamp with its run. */
static int touch(PyObject *record, PyObject *time, PyObject *stamp, PyObject *run) {
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
        !(prefix = PyUnicode_FromFormat("datasetField:%U:", tail))) {
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
    PyObject *value = PyObject_GetAttr(graph, name);
    if (value == NULL) {
        return -1;
    }
    Py_DECREF(value); /* the graph keeps it alive for the call */
    if (Py_TYPE(value) != type) {
        PyErr_Format(PyExc_TypeError, "apply: graph.%U is not a %s", name, type->tp_name);
        return -1;
    }
    *slot = value;
    return 0;
}

static int graph_parts(PyObject *graph, Graph *g) {
    return graph_part(graph, S_INDEX, &g->index, &PyDict_Type) < 0 ||
                   graph_part(graph, S_IDS, &g->ids, &PyList_Type) < 0 ||
                   graph_part(graph, S_KINDS, &g->kinds, &PyByteArray_Type) < 0 ||
                   graph_part(graph, S_RECORDS, &g->records, &PyList_Type) < 0 ||
                   graph_part(graph, S_OUT, &g->out, &PyList_Type) < 0 ||
                   graph_part(graph, S_INC, &g->inc, &PyList_Type) < 0 ||
                   graph_part(graph, S_EDGES, &g->edges, &PyDict_Type) < 0 ||
                   graph_part(graph, S_COLUMNS, &g->columns, &PyDict_Type) < 0
               ? -1
               : 0;
}

/* -- apply: MemoryGraph.apply for a whole delta -------------------------------------------------- */

static PyObject *NODE_KINDS = NULL;   /* tuple: the NodeKind member of each node code */
static PyObject *EDGE_CODES = NULL;   /* tuple: (EdgeKind member, variant) of each edge code */
static PyObject *PREFIX_CODES = NULL; /* dict: "dataset" -> its node code, ... */
static PyObject *WINS = NULL;         /* memory._wins: the tie-break of two values of one stamp */
static PyObject *KIND_OF = NULL;      /* memory._kind_of: raises for an id of no known kind */
static PyObject *S_ID, *S_KIND, *S_PROPS, *S_SRC, *S_DST, *S_VARIANT, *S_STAMP, *S_RUN, *S_NODES,
    *S_EDGES_ATTR, *S_COLUMNS_ATTR;

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
    PyErr_Format(PyExc_KeyError, "not a node kind: %R", kind);
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
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(EDGE_CODES); i++) {
        PyObject *pair = PyTuple_GET_ITEM(EDGE_CODES, i);
        if (PyTuple_GET_ITEM(pair, 0) == kind) {
            int same = PyUnicode_Compare(PyTuple_GET_ITEM(pair, 1), variant);
            if (same == 0) {
                return (long)i;
            }
            if (PyErr_Occurred()) {
                return -1;
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
             *nodes = PyObject_GetAttr(delta, S_NODES), *edges = PyObject_GetAttr(delta, S_EDGES_ATTR),
             *columns = PyObject_GetAttr(delta, S_COLUMNS_ATTR);
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

static int string(Cursor *c, Span *s) {
    if (!eat(c, '"')) {
        return 0;
    }
    s->start = c->p;
    const char *quote = memchr(c->p, '"', c->end - c->p);
    if (quote == NULL) {
        return 0;
    }
    s->escaped = memchr(c->p, '\\', quote - c->p) != NULL;
    if (s->escaped) { /* the quote found may be escaped: walk it */
        const char *p = c->p;
        while (p < c->end && *p != '"') {
            p += *p == '\\' ? 2 : 1;
        }
        if (p >= c->end) {
            return 0;
        }
        quote = p;
    }
    s->len = quote - s->start;
    c->p = quote + 1;
    return 1;
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

static int is(const Span *s, const char *key) {
    return !s->escaped && (size_t)s->len == strlen(key) && memcmp(s->start, key, s->len) == 0;
}

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
    PyObject *dataset, *dst; /* the entry's first and third fields, borrowed */
    PyObject *column;        /* its second, owned while its entries are added */
    PyObject *entries;                /* list being filled */
    PyObject *ids;                    /* dict: id text -> one str, shared by the entries */
} Target;

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
        ok = string(c, &key) && eat(c, ':');
        if (!ok) {
            break;
        }
        if (is(&key, "type")) {
            ok = type.start == NULL && string(c, &type);
        } else if (is(&key, "subtype")) {
            ok = subtype == NULL && optional_text(c, &subtype);
        } else if (is(&key, "description")) {
            ok = description == NULL && optional_text(c, &description);
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

/* One input field: {"namespace", "name", "field": Name, "transformations"?: [..] | null}. */
static int input_field(Cursor *c, Target *t, PyObject *default_kind) {
    Span ns = {NULL, 0, 0}, name = {NULL, 0, 0}, field = {NULL, 0, 0};
    const char *transformations = NULL; /* where its list starts; read once the ids are known */
    int ok = eat(c, '{') && !peek(c, '}');
    while (ok) {
        Span key;
        ok = string(c, &key) && eat(c, ':');
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
            ok = transformations == NULL;
            if (ok) {
                ws(c);
                transformations = c->p;
                ok = skip(c, 0);
            }
        } else {
            ok = skip(c, 0);
        }
        if (!ok || !eat(c, ',')) {
            break;
        }
    }
    if (!(ok && eat(c, '}') && ns.start && name.start && field.start)) {
        return 0;
    }
    PyObject *dataset = node_id("dataset:", &ns, &name, NULL);
    t->dataset = dataset ? shared(t->ids, dataset) : NULL;
    t->column = t->dataset ? node_id("datasetField:", &ns, &name, &field) : NULL;
    if (t->column == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    int rc;
    Cursor list = {transformations, c->end};
    if (transformations == NULL || literal(&list, "null")) {
        rc = add_entry(t, default_kind, Py_None, Py_None, 0) < 0 ? -1 : 1;
    } else if (!eat(&list, '[')) {
        rc = 0;
    } else if (eat(&list, ']')) { /* no transformations: the default kind */
        rc = add_entry(t, default_kind, Py_None, Py_None, 0) < 0 ? -1 : 1;
    } else {
        do {
            rc = transformation(&list, t);
        } while (rc == 1 && eat(&list, ','));
        if (rc == 1 && !eat(&list, ']')) {
            rc = 0;
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
        ok = string(c, &key) && eat(c, ':');
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
    Target t = {NULL, NULL, NULL, NULL, PyDict_New()};
    PyObject *result = NULL;
    int rc = direct && indirect && fields && named && t.ids ? 1 : -1, seen_fields = 0, seen_dataset = 0;
    if (rc == 1 && !(eat(&c, '{') && !peek(&c, '}'))) {
        rc = 0;
    }
    while (rc == 1) {
        Span key;
        if (!(string(&c, &key) && eat(&c, ':'))) {
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
            ok = string(c, &key) && eat(c, ':');
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
            if (!(string(&c, &key) && eat(&c, ':'))) {
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
    S_EDGES_ATTR = S_EDGES;
    S_COLUMNS_ATTR = S_COLUMNS;
#undef STR
    return PyModule_Create(&module_def);
}
