/*
 * Unit tests for src/app/app_ydoc_store: documents (the [0,0] empty state, merging and
 * bounded compaction, validation, the size limit), members (join order, duplicates, last
 * one out clears) and the debounced saves (deadlines, re-arming, one write at a time, a
 * save outliving its document).
 *
 * The updates below were produced by yjs 13.6.33 (node_modules/yjs): two Y.Docs (client
 * ids 1 and 2) sharing a Y.Text "t"; doc 1 types "hello", doc 2 types " world", doc 1
 * replaces the "h" by "H". Every update doc 1 emitted is listed, including the echoes of
 * doc 2's updates that doc 1 re-emits after applying them (as Open WebUI's editor does,
 * spec §6.7). Final text "Hello world".
 *
 * src/app is built only into build/sioc, so the module is #included.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../src/app/app_ydoc_store.c"
#include "yjs/yjs_text.h"

static const char *const UPDATES[] = {
    "0101010004010174016800",   "01010101840100016500", "01010102840101016c00",
    "01010103840102016c00",     "01010104840103016f00", "01010200840104012000",
    "01010200840104012000",     "01010201840200017700", "01010201840200017700",
    "01010202840201016f00",     "01010202840201016f00", "01010203840202017200",
    "01010203840202017200",     "01010204840203016c00", "01010204840203016c00",
    "01010205840204016400",     "01010205840204016400", "000101010001",
    "01010105c401000101014800",
};
#define N_UPDATES (sizeof UPDATES / sizeof UPDATES[0])

/* Y.encodeStateVector(doc) at the end: client 2 has clocks 0..5, client 1 0..5. */
static const char FINAL_SV[] = "0202060106";

static slice_t hex(const char *h, uint8_t *out)
{
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return slice_make(out, n);
}

static void append_hex(app_ydoc_store_t *st, app_ydoc_doc_t *d, const char *h)
{
    uint8_t b[64];
    yjs_error_t err;
    int rc = app_ydoc_doc_append(st, d, hex(h, b), &err);
    cr_assert_eq(rc, APP_YDOC_OK, "append %s: %d %s", h, rc, err.msg);
}

static char *text_of(slice_t update)
{
    buf_t out = BUF_INIT;
    yjs_error_t err;
    cr_assert_eq(yjs_text_extract(update.ptr, update.len, &out, &err), YJS_OK, "%s", err.msg);
    buf_append_byte(&out, '\0');
    size_t n;
    return (char *)buf_steal(&out, &n);
}

static char *sv_hex(slice_t update)
{
    buf_t sv = BUF_INIT;
    yjs_error_t err;
    cr_assert_eq(yjs_state_vector_from_update(update, &sv, &err), YJS_OK);
    char *s = calloc(1, sv.len * 2 + 1);
    for (size_t i = 0; i < sv.len; i++)
        sprintf(s + 2 * i, "%02x", buf_data(&sv)[i]);
    buf_dispose(&sv);
    return s;
}

/* A valid update inserting `n` copies of 'x' into root "t" as client `client`. */
static void big_update(buf_t *b, uint8_t client, size_t n)
{
    buf_clear(b);
    const uint8_t head[] = {1, 1, client, 0, 4, 1, 1, 't'};
    buf_append(b, head, sizeof head);
    for (size_t v = n;; v >>= 7) { /* varuint length */
        buf_append_byte(b, (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0)));
        if (v < 0x80)
            break;
    }
    uint8_t *w = buf_reserve(b, n);
    memset(w, 'x', n);
    buf_commit(b, n);
    buf_append_byte(b, 0);
}

static app_ydoc_peer_t peer(const char *sid)
{
    app_ydoc_peer_t p = {.members = NULL};
    snprintf(p.sid, sizeof p.sid, "%s", sid);
    return p;
}

TestSuite(app_ydoc_store, .timeout = 20);

Test(app_ydoc_store, empty_document_state_is_0_0)
{
    app_ydoc_store_t *st = app_ydoc_store_new();
    app_ydoc_peer_t a = peer("sidA");
    bool added = false;
    app_ydoc_member_t *m = app_ydoc_store_join(st, SLICE_LIT("note:n1"), &a, &added);
    cr_assert(added);
    app_ydoc_doc_t *d = app_ydoc_member_doc(m);
    cr_assert_str_eq(app_ydoc_doc_id(d), "note:n1");
    cr_assert_str_eq(app_ydoc_doc_room(d), "doc_note:n1");
    cr_assert_not(app_ydoc_doc_has_updates(d));
    slice_t s = {0};
    cr_assert_eq(app_ydoc_doc_state(st, d, &s), APP_YDOC_OK);
    cr_assert_eq(s.len, 2);
    cr_assert(s.ptr[0] == 0 && s.ptr[1] == 0);
    /* an empty update stored is still an empty state, but the document now "exists" */
    append_hex(st, d, "0000");
    cr_assert(app_ydoc_doc_has_updates(d));
    cr_assert_eq(app_ydoc_doc_state(st, d, &s), APP_YDOC_OK);
    cr_assert(s.len == 2 && s.ptr[0] == 0 && s.ptr[1] == 0);
    app_ydoc_store_free(st);
}

Test(app_ydoc_store, merged_state_holds_every_update)
{
    app_ydoc_store_t *st = app_ydoc_store_new();
    app_ydoc_peer_t a = peer("sidA");
    bool added;
    app_ydoc_doc_t *d =
        app_ydoc_member_doc(app_ydoc_store_join(st, SLICE_LIT("note:n1"), &a, &added));
    for (size_t i = 0; i < N_UPDATES; i++) {
        append_hex(st, d, UPDATES[i]);
        /* the state at every step equals the one-shot merge of the prefix */
        slice_t s = {0};
        cr_assert_eq(app_ydoc_doc_state(st, d, &s), APP_YDOC_OK);
        slice_t in[N_UPDATES];
        uint8_t bufs[N_UPDATES][64];
        for (size_t k = 0; k <= i; k++)
            in[k] = hex(UPDATES[k], bufs[k]);
        buf_t want = BUF_INIT;
        yjs_error_t err;
        cr_assert_eq(yjs_merge_updates(in, i + 1, &want, &err), YJS_OK);
        char *t1 = text_of(s), *t2 = text_of(buf_slice(&want));
        cr_assert_str_eq(t1, t2, "after update %zu", i);
        free(t1);
        free(t2);
        buf_dispose(&want);
    }
    slice_t s = {0};
    cr_assert_eq(app_ydoc_doc_state(st, d, &s), APP_YDOC_OK);
    char *t = text_of(s);
    cr_assert_str_eq(t, "Hello world");
    free(t);
    char *sv = sv_hex(s);
    cr_assert_str_eq(sv, FINAL_SV);
    free(sv);
    app_ydoc_store_free(st);
}

Test(app_ydoc_store, lazy_merge_without_state_requests)
{
    /* no state is asked for: the tail must still be merged by itself */
    app_ydoc_store_t *st = app_ydoc_store_new();
    app_ydoc_peer_t a = peer("sidA");
    bool added;
    app_ydoc_doc_t *d = app_ydoc_member_doc(app_ydoc_store_join(st, SLICE_LIT("x"), &a, &added));
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < N_UPDATES; i++)
            append_hex(st, d, UPDATES[i]); /* the same edits again and again: echoes */
        cr_assert_leq(d->n_tail, APP_YDOC_MAX_PENDING);
        cr_assert_leq(app_ydoc_doc_bytes(d), APP_YDOC_MIN_COMPACT_BYTES + 64, "round %d: %zu bytes",
                      round, app_ydoc_doc_bytes(d));
    }
    /* 200 x 19 appends, yet the document is its merged size plus a bounded tail */
    cr_assert_lt(d->merged.len, 200);
    slice_t s = {0};
    cr_assert_eq(app_ydoc_doc_state(st, d, &s), APP_YDOC_OK);
    char *t = text_of(s);
    cr_assert_str_eq(t, "Hello world");
    free(t);
    cr_assert_eq(d->n_tail, 0);
    app_ydoc_store_free(st);
}

Test(app_ydoc_store, invalid_updates_are_refused)
{
    app_ydoc_store_t *st = app_ydoc_store_new();
    app_ydoc_peer_t a = peer("sidA");
    bool added;
    app_ydoc_doc_t *d = app_ydoc_member_doc(app_ydoc_store_join(st, SLICE_LIT("x"), &a, &added));
    static const char *const bad[] = {"", "00", "01", "0101010004010174016800ff", "ffffffff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t b[64];
        yjs_error_t err;
        cr_expect_eq(app_ydoc_doc_append(st, d, hex(bad[i], b), &err), APP_YDOC_EINVAL, "%s",
                     bad[i]);
    }
    cr_assert_not(app_ydoc_doc_has_updates(d));
    cr_assert_eq(app_ydoc_doc_bytes(d), 0);
    append_hex(st, d, UPDATES[0]);
    slice_t s = {0};
    cr_assert_eq(app_ydoc_doc_state(st, d, &s), APP_YDOC_OK);
    char *t = text_of(s);
    cr_assert_str_eq(t, "h");
    free(t);
    app_ydoc_store_free(st);
}

Test(app_ydoc_store, document_size_is_capped)
{
    app_ydoc_store_t *st = app_ydoc_store_new();
    app_ydoc_peer_t a = peer("sidA");
    bool added;
    app_ydoc_doc_t *d = app_ydoc_member_doc(app_ydoc_store_join(st, SLICE_LIT("x"), &a, &added));
    buf_t u = BUF_INIT;
    yjs_error_t err;
    size_t chunk = (size_t)1 << 20, stored = 0;
    int rc = APP_YDOC_OK;
    uint8_t client = 1;
    for (; rc == APP_YDOC_OK && client < 40; client++) {
        big_update(&u, client, chunk);
        rc = app_ydoc_doc_append(st, d, buf_slice(&u), &err);
        if (rc == APP_YDOC_OK)
            stored += u.len;
    }
    cr_assert_eq(rc, APP_YDOC_EFULL);
    cr_assert_leq(app_ydoc_doc_bytes(d), APP_YDOC_MAX_DOC_BYTES);
    cr_assert_geq(stored, APP_YDOC_MAX_DOC_BYTES - 2 * chunk);
    /* an update already contained merges to nothing new and is still taken */
    big_update(&u, 1, chunk);
    cr_assert_eq(app_ydoc_doc_append(st, d, buf_slice(&u), &err), APP_YDOC_OK);
    buf_dispose(&u);
    app_ydoc_store_free(st);
}

Test(app_ydoc_store, members_in_join_order_and_last_out_clears)
{
    app_ydoc_store_t *st = app_ydoc_store_new();
    app_ydoc_peer_t a = peer("sidA"), b = peer("sidB"), c = peer("sid\"C");
    bool added;
    app_ydoc_member_t *ma = app_ydoc_store_join(st, SLICE_LIT("note:n1"), &a, &added);
    app_ydoc_member_t *mb = app_ydoc_store_join(st, SLICE_LIT("note:n1"), &b, &added);
    app_ydoc_store_join(st, SLICE_LIT("note:n1"), &c, &added);
    cr_assert(added);
    cr_assert_eq(app_ydoc_store_join(st, SLICE_LIT("note:n1"), &b, &added), mb);
    cr_assert_not(added, "a second join of the same peer is the same member");
    app_ydoc_doc_t *d = app_ydoc_member_doc(ma);
    cr_assert_eq(app_ydoc_doc_members(d), 3);
    buf_t j = BUF_INIT;
    app_ydoc_doc_sessions_json(d, &j);
    buf_append_byte(&j, 0);
    cr_assert_str_eq((char *)buf_data(&j), "[\"sidA\",\"sidB\",\"sid\\\"C\"]");
    /* b also edits a second document */
    app_ydoc_store_join(st, SLICE_LIT("free-form"), &b, &added);
    cr_assert_eq(app_ydoc_store_docs(st), 2);
    cr_assert_not_null(app_ydoc_peer_find(&b, SLICE_LIT("free-form")));
    cr_assert_null(app_ydoc_peer_find(&a, SLICE_LIT("free-form")));
    append_hex(st, d, UPDATES[0]);

    cr_assert_not(app_ydoc_store_leave(st, ma));
    buf_clear(&j);
    app_ydoc_doc_sessions_json(d, &j);
    buf_append_byte(&j, 0);
    cr_assert_str_eq((char *)buf_data(&j), "[\"sidB\",\"sid\\\"C\"]");
    cr_assert_eq(app_ydoc_store_leave_all(st, &b), 2);
    cr_assert_null(b.members);
    cr_assert_eq(app_ydoc_store_docs(st), 1, "free-form cleared with its last member");
    cr_assert_eq(app_ydoc_store_find(st, SLICE_LIT("note:n1")), d);
    cr_assert(app_ydoc_store_leave(st, c.members), "the last one out clears");
    cr_assert_null(app_ydoc_store_find(st, SLICE_LIT("note:n1")));
    cr_assert_eq(app_ydoc_store_docs(st), 0);

    /* a new life starts empty */
    d = app_ydoc_member_doc(app_ydoc_store_join(st, SLICE_LIT("note:n1"), &a, &added));
    cr_assert_not(app_ydoc_doc_has_updates(d));
    slice_t s = {0};
    cr_assert_eq(app_ydoc_doc_state(st, d, &s), APP_YDOC_OK);
    cr_assert_eq(s.len, 2);
    buf_dispose(&j);
    app_ydoc_store_free(st);
    cr_assert_null(a.members, "store_free detaches peers");
}

Test(app_ydoc_store, many_documents_grow_the_table)
{
    app_ydoc_store_t *st = app_ydoc_store_new();
    app_ydoc_peer_t *p = calloc(300, sizeof *p);
    char id[32];
    bool added;
    for (int i = 0; i < 300; i++) {
        snprintf(p[i].sid, sizeof p[i].sid, "s%d", i);
        snprintf(id, sizeof id, "doc-%d", i);
        app_ydoc_store_join(st, slice_from_cstr(id), &p[i], &added);
        app_ydoc_store_join(st, SLICE_LIT("shared"), &p[i], &added);
    }
    cr_assert_eq(app_ydoc_store_docs(st), 301);
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "doc-%d", i);
        app_ydoc_doc_t *d = app_ydoc_store_find(st, slice_from_cstr(id));
        cr_assert_not_null(d);
        cr_assert_str_eq(app_ydoc_doc_id(d), id);
    }
    cr_assert_eq(app_ydoc_doc_members(app_ydoc_store_find(st, SLICE_LIT("shared"))), 300);
    for (int i = 0; i < 300; i += 2)
        app_ydoc_store_leave_all(st, &p[i]);
    cr_assert_eq(app_ydoc_store_docs(st), 151);
    app_ydoc_store_free(st);
    free(p);
}

Test(app_ydoc_store, documents_and_members_can_be_walked)
{
    app_ydoc_store_t *st = app_ydoc_store_new();
    app_ydoc_peer_t *p = calloc(40, sizeof *p);
    char id[32];
    bool added;
    for (int i = 0; i < 40; i++) { /* 20 documents (the table grows), two members each */
        snprintf(p[i].sid, sizeof p[i].sid, "s%d", i);
        snprintf(id, sizeof id, "doc-%d", i / 2);
        app_ydoc_store_join(st, slice_from_cstr(id), &p[i], &added);
    }
    int docs = 0, members = 0;
    for (app_ydoc_doc_t *d = app_ydoc_store_next_doc(st, NULL); d;
         d = app_ydoc_store_next_doc(st, d)) {
        docs++;
        int k = atoi(app_ydoc_doc_id(d) + 4), n = 0;
        for (const app_ydoc_member_t *m = app_ydoc_doc_next_member(d, NULL); m;
             m = app_ydoc_doc_next_member(d, m), n++) {
            char want[16];
            snprintf(want, sizeof want, "s%d", 2 * k + n);
            cr_assert_str_eq(app_ydoc_member_sid(m), want, "join order");
            members++;
        }
        cr_assert_eq(n, 2);
    }
    cr_assert_eq(docs, 20, "every document exactly once");
    cr_assert_eq(members, 40);
    app_ydoc_store_free(st);
    free(p);
    app_ydoc_store_t *empty = app_ydoc_store_new();
    cr_assert_null(app_ydoc_store_next_doc(empty, NULL));
    app_ydoc_store_free(empty);
}

static app_ydoc_doc_t *open_doc(app_ydoc_store_t *st, app_ydoc_peer_t *p, const char *id)
{
    bool added;
    return app_ydoc_member_doc(app_ydoc_store_join(st, slice_from_cstr(id), p, &added));
}

Test(app_ydoc_store, save_is_debounced)
{
    app_ydoc_store_t *st = app_ydoc_store_new();
    app_ydoc_peer_t a = peer("sidA");
    app_ydoc_doc_t *d = open_doc(st, &a, "note:n1");
    app_ydoc_save_job_t job;
    cr_assert_eq(app_ydoc_save_next_due(st), -1);
    cr_assert_eq(app_ydoc_save_schedule(st, d, SLICE_LIT("n1"), SLICE_LIT("{\"content\":1}"), "u1",
                                        false, 1000, 500),
                 APP_YDOC_OK);
    cr_assert_eq(app_ydoc_save_next_due(st), 1500);
    cr_assert_null(app_ydoc_save_take(st, 1499, false, &job));
    /* a newer snapshot replaces the data and pushes the deadline back */
    app_ydoc_save_schedule(st, d, SLICE_LIT("n1"), SLICE_LIT("{\"content\":2}"), "u2", true, 1400,
                           500);
    cr_assert_eq(app_ydoc_save_count(st), 1);
    cr_assert_eq(app_ydoc_save_next_due(st), 1900);
    cr_assert_null(app_ydoc_save_take(st, 1500, false, &job));
    app_ydoc_save_t *sv = app_ydoc_save_take(st, 1900, false, &job);
    cr_assert_not_null(sv);
    cr_assert_str_eq(job.doc_id, "note:n1");
    cr_assert_str_eq(job.note_id, "n1");
    cr_assert_str_eq(job.data_json, "{\"content\":2}");
    cr_assert_str_eq(job.user_id, "u2");
    cr_assert(job.is_admin);
    cr_assert_eq(app_ydoc_save_writing(st), 1);
    cr_assert_eq(app_ydoc_save_next_due(st), -1);
    app_ydoc_save_done(st, sv);
    cr_assert_eq(app_ydoc_save_count(st), 0);
    cr_assert_eq(app_ydoc_save_writing(st), 0);
    app_ydoc_store_free(st);
}

Test(app_ydoc_store, one_write_per_note_at_a_time)
{
    app_ydoc_store_t *st = app_ydoc_store_new();
    app_ydoc_peer_t a = peer("sidA");
    app_ydoc_doc_t *d = open_doc(st, &a, "note:n1");
    app_ydoc_save_job_t job;
    app_ydoc_save_schedule(st, d, SLICE_LIT("n1"), SLICE_LIT("{\"v\":1}"), "u", false, 0, 500);
    app_ydoc_save_t *sv = app_ydoc_save_take(st, 500, false, &job);
    cr_assert_not_null(sv);
    /* re-armed while the first write runs: due, but not taken until the write is done */
    app_ydoc_save_schedule(st, d, SLICE_LIT("n1"), SLICE_LIT("{\"v\":2}"), "u", false, 600, 500);
    cr_assert_eq(app_ydoc_save_next_due(st), -1);
    cr_assert_null(app_ydoc_save_take(st, 5000, false, &job));
    cr_assert_null(app_ydoc_save_take(st, 5000, true, &job));
    app_ydoc_save_done(st, sv);
    cr_assert_eq(app_ydoc_save_count(st), 1, "the re-armed save stays");
    cr_assert_eq(app_ydoc_save_next_due(st), 1100);
    app_ydoc_save_t *sv2 = app_ydoc_save_take(st, 1100, false, &job);
    cr_assert_eq(sv2, sv);
    cr_assert_str_eq(job.data_json, "{\"v\":2}");
    app_ydoc_save_done(st, sv2);
    cr_assert_eq(app_ydoc_save_count(st), 0);
    app_ydoc_store_free(st);
}

Test(app_ydoc_store, saves_come_due_in_deadline_order)
{
    app_ydoc_store_t *st = app_ydoc_store_new();
    app_ydoc_peer_t a = peer("sidA");
    app_ydoc_doc_t *d1 = open_doc(st, &a, "note:1"), *d2 = open_doc(st, &a, "note:2"),
                   *d3 = open_doc(st, &a, "note:3");
    app_ydoc_save_job_t job;
    app_ydoc_save_schedule(st, d1, SLICE_LIT("1"), SLICE_LIT("{}"), "u", false, 0, 500);
    app_ydoc_save_schedule(st, d2, SLICE_LIT("2"), SLICE_LIT("{}"), "u", false, 10, 500);
    app_ydoc_save_schedule(st, d3, SLICE_LIT("3"), SLICE_LIT("{}"), "u", false, 20, 500);
    app_ydoc_save_schedule(st, d1, SLICE_LIT("1"), SLICE_LIT("{}"), "u", false, 30, 500);
    /* a zero delay (the flush path) goes to the front */
    app_ydoc_save_schedule(st, d3, SLICE_LIT("3"), SLICE_LIT("{}"), "u", false, 40, 0);
    const char *want[] = {"3", "2", "1"};
    uint64_t due[] = {40, 510, 530};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(app_ydoc_save_next_due(st), (int64_t)due[i]);
        app_ydoc_save_t *sv = app_ydoc_save_take(st, due[i], false, &job);
        cr_assert_not_null(sv);
        cr_assert_str_eq(job.note_id, want[i]);
        app_ydoc_save_done(st, sv);
    }
    /* take(all) ignores deadlines (shutdown flush) */
    app_ydoc_save_schedule(st, d2, SLICE_LIT("2"), SLICE_LIT("{}"), "u", false, 1000, 500);
    cr_assert_null(app_ydoc_save_take(st, 1000, false, &job));
    app_ydoc_save_t *sv = app_ydoc_save_take(st, 1000, true, &job);
    cr_assert_not_null(sv);
    app_ydoc_save_done(st, sv);
    cr_assert_eq(app_ydoc_save_count(st), 0);
    app_ydoc_store_free(st);
}

Test(app_ydoc_store, save_outlives_its_document)
{
    app_ydoc_store_t *st = app_ydoc_store_new();
    app_ydoc_peer_t a = peer("sidA");
    app_ydoc_doc_t *d = open_doc(st, &a, "note:n1");
    app_ydoc_save_job_t job;
    app_ydoc_save_schedule(st, d, SLICE_LIT("n1"), SLICE_LIT("{\"v\":1}"), "u", false, 0, 500);
    /* the last editor closes the tab: the document goes, the edit does not */
    cr_assert(app_ydoc_store_leave_all(st, &a) == 1);
    cr_assert_eq(app_ydoc_store_docs(st), 0);
    cr_assert_eq(app_ydoc_save_count(st), 1);
    /* reopened before the deadline: the same save is re-armed, not a second one */
    d = open_doc(st, &a, "note:n1");
    app_ydoc_save_schedule(st, d, SLICE_LIT("n1"), SLICE_LIT("{\"v\":2}"), "u", false, 100, 500);
    cr_assert_eq(app_ydoc_save_count(st), 1);
    app_ydoc_store_leave_all(st, &a);
    app_ydoc_save_t *sv = app_ydoc_save_take(st, 600, false, &job);
    cr_assert_not_null(sv);
    cr_assert_str_eq(job.data_json, "{\"v\":2}");
    app_ydoc_save_done(st, sv);
    cr_assert_eq(app_ydoc_save_count(st), 0);
    /* freeing the store with a save armed and one being written leaks nothing (ASan) */
    d = open_doc(st, &a, "note:n2");
    app_ydoc_save_schedule(st, d, SLICE_LIT("n2"), SLICE_LIT("{}"), "u", false, 0, 500);
    app_ydoc_doc_t *d3 = open_doc(st, &a, "note:n3");
    app_ydoc_save_schedule(st, d3, SLICE_LIT("n3"), SLICE_LIT("{}"), "u", false, 0, 500);
    cr_assert_not_null(app_ydoc_save_take(st, 500, false, &job));
    app_ydoc_store_free(st);
}
