/* test_review_core.c — regressions from a review of the core library: model
 * files whose parts contradict each other (src/learn/model.c). */
#include "testutil.h"
#include "tide/feat.h"
#include "tide/learn.h"

/* A model of learner NAME (bits 8) whose label dictionary is replaced by
 * one of task T holding N classes, saved into b. */
static void save_mixed(tide_wbuf *b, const char *name, tide_task t, int n, int grow)
{
    tide_feat_opts fo;
    tide_featurizer *fz;
    tide_learner *l;
    tide_model *m;
    tide_err err;
    tide_feat_opts_init(&fo);
    fo.bits = 8;
    assert_int_equal(tide_featurizer_new(&fo, &fz, &err), TIDE_OK);
    assert_int_equal(tide_learner_new(name, NULL, 0, 8, &l, &err), TIDE_OK);
    assert_int_equal(tide_model_new(fz, l, &m, &err), TIDE_OK);
    tide_labels_free(m->labels);
    assert_int_equal(tide_labels_new(t, &m->labels), TIDE_OK);
    for (int i = 0; i < n; i++) {
        char s[16];
        int idx;
        snprintf(s, sizeof s, "c%d", i);
        assert_int_equal(tide_labels_index(m->labels, s, strlen(s), &idx, &err), TIDE_OK);
    }
    if (grow)
        tide_learner_grow_classes(m->learner, grow);
    tide_wbuf_init(b);
    assert_int_equal(tide_model_save_buf(m, b), TIDE_OK);
    tide_model_free(m);
}

static void expect_refused(const char *name, tide_task t, int n, int grow)
{
    tide_wbuf b;
    tide_model *m = NULL;
    tide_err err;
    save_mixed(&b, name, t, n, grow);
    assert_int_equal(tide_model_load_buf(b.data, b.len, &m, &err), TIDE_ERR_FORMAT);
    assert_null(m);
    assert_non_null(strstr(err.msg, "inconsistent"));
    tide_wbuf_free(&b);
}

static void expect_loaded(const char *name, tide_task t, int n, int want_classes)
{
    tide_wbuf b;
    tide_model *m = NULL;
    tide_err err;
    save_mixed(&b, name, t, n, 0);
    assert_int_equal(tide_model_load_buf(b.data, b.len, &m, &err), TIDE_OK);
    assert_int_equal(tide_learner_classes(m->learner), want_classes);
    tide_model_free(m);
    tide_wbuf_free(&b);
}

/* A binary learner with a five-class dictionary loaded as a 5-class
 * logistic model (predictions wrote 2 of 5 probabilities); a multiclass
 * learner with a binary dictionary; a learner with more classes than its
 * dictionary names. All are refused; the consistent ones still load. */
static void test_model_labels_must_match_learner(void **st)
{
    (void)st;
    expect_refused("logistic", TIDE_TASK_MULTICLASS, 5, 0);
    expect_refused("softmax", TIDE_TASK_BINARY, 0, 0);
    expect_refused("gnb", TIDE_TASK_BINARY, 0, 0);
    expect_refused("softmax", TIDE_TASK_MULTICLASS, 3, 7);
    expect_loaded("logistic", TIDE_TASK_BINARY, 2, 2);
    expect_loaded("softmax", TIDE_TASK_MULTICLASS, 3, 3);
    expect_loaded("gnb", TIDE_TASK_MULTICLASS, 1, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_labels_must_match_learner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
