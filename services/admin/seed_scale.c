/* seed_scale.c - `sms-admin seed scale`: a generated data set of any size,
 * by default the seed's migration (50 classes, 500 students, 180 assignments),
 * loaded through the gateway with many requests in flight. Every id and
 * Idempotency-Key derives from --run, so a rerun creates nothing new.
 * Called by seed.c; sends through http_client.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "seed.h"

#define ROSTER_CHUNK 500  /* most students one enrol call takes */
#define GRADES_CHUNK 1000 /* most rows one update-grades call takes */
#define CLASSES_PER_STUDENT 3
#define SUBMIT_EVERY 4 /* student s submits to assignment a when (s + a) % 4 == 0 */
#define DAY_MS (24LL * 3600 * 1000)
#define ID_LEN 64
#define RUN_MAX 32

typedef struct {
    const char *run;
    long classes, students, assignments, lecturers;
} scale_opts_t;

typedef struct {
    int *ids; /* student indexes, ascending */
    size_t n;
} roster_t;

static int parse_count(const char *name, const char *v, long min, long *out) {
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end || n < min || n > 10000000) {
        fprintf(stderr, "sms-admin: %s must be an integer >= %ld\n", name, min);
        return -1;
    }
    *out = n;
    return 0;
}

static int valid_run(const char *run) {
    size_t n = strlen(run);
    if (n == 0 || n > RUN_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = run[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '_'))
            return 0;
    }
    return 1;
}

static int parse_opts(int argc, char **argv, scale_opts_t *o) {
    *o = (scale_opts_t){.run = "scale", .classes = 50, .students = 500, .assignments = 180, .lecturers = 10};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            fprintf(stderr, "sms-admin: seed scale: unknown or incomplete option %s (see sms-admin seed --help)\n", a);
            return -1;
        }
        const char *v = argv[++i];
        int rc;
        if (!strcmp(a, "--run")) rc = valid_run(v) ? (o->run = v, 0) : -1;
        else if (!strcmp(a, "--classes")) rc = parse_count(a, v, 1, &o->classes);
        else if (!strcmp(a, "--students")) rc = parse_count(a, v, 1, &o->students);
        else if (!strcmp(a, "--assignments")) rc = parse_count(a, v, 0, &o->assignments);
        else if (!strcmp(a, "--lecturers")) rc = parse_count(a, v, 1, &o->lecturers);
        else {
            fprintf(stderr, "sms-admin: seed scale: unknown option %s (see sms-admin seed --help)\n", a);
            return -1;
        }
        if (rc) {
            if (!strcmp(a, "--run")) fprintf(stderr, "sms-admin: --run must be 1..%d of A-Z a-z 0-9 - _\n", RUN_MAX);
            return -1;
        }
    }
    return 0;
}

static long lecturer_of(const scale_opts_t *o, long cls) { return cls % o->lecturers; }
static long class_of(const scale_opts_t *o, long asg) { return asg % o->classes; }
static int submits(long student, long asg) { return (student + asg) % SUBMIT_EVERY == 0; }

/* Student s is in the CLASSES_PER_STUDENT (or all, if fewer) consecutive
 * classes from (s * k) % C: every class gets about S * k / C students. */
static roster_t *build_rosters(const scale_opts_t *o, size_t *enrollments) {
    roster_t *r = sms_calloc((size_t)o->classes, sizeof *r);
    long k = o->classes < CLASSES_PER_STUDENT ? o->classes : CLASSES_PER_STUDENT;
    size_t cap = (size_t)((o->students * k) / o->classes + k + 1);
    for (long c = 0; c < o->classes; c++) r[c].ids = sms_calloc(cap, sizeof *r[c].ids);
    for (long s = 0; s < o->students; s++)
        for (long j = 0; j < k; j++) {
            roster_t *ro = &r[(s * k + j) % o->classes];
            ro->ids[ro->n++] = (int)s;
        }
    *enrollments = (size_t)(o->students * k);
    return r;
}

static void free_rosters(const scale_opts_t *o, roster_t *r) {
    for (long c = 0; c < o->classes; c++) sms_free(r[c].ids);
    sms_free(r);
}

static void student_id(const scale_opts_t *o, long s, char *out, size_t n) {
    snprintf(out, n, "%s-s%ld", o->run, s + 1);
}

static char *roster_body(const scale_opts_t *o, const roster_t *ro, size_t from, size_t to) {
    sms_buf_t b;
    sms_buf_init(&b);
    sms_buf_puts(&b, "{\"students\":[");
    for (size_t i = from; i < to; i++) {
        char sid[ID_LEN];
        student_id(o, ro->ids[i], sid, sizeof sid);
        sms_buf_printf(&b, "%s{\"student_id\":\"%s\",\"name\":\"Student %d\",\"email\":\"%s@seed.example.edu\"}",
                       i > from ? "," : "", sid, ro->ids[i] + 1, sid);
    }
    sms_buf_puts(&b, "]}");
    return sms_buf_take(&b, NULL);
}

static char *grades_body(const scale_opts_t *o, const roster_t *ro, long asg, size_t from, size_t to) {
    sms_buf_t b;
    sms_buf_init(&b);
    sms_buf_puts(&b, "{\"grades\":[");
    for (size_t i = from; i < to; i++) {
        char sid[ID_LEN];
        student_id(o, ro->ids[i], sid, sizeof sid);
        long score = (ro->ids[i] * 31L + asg * 17L) % 101;
        sms_buf_printf(&b, "%s{\"student_id\":\"%s\",\"score\":%ld,\"feedback\":\"%s\"}", i > from ? "," : "", sid,
                       score, score >= 50 ? "Passed." : "Please see me in office hours.");
    }
    sms_buf_puts(&b, "],\"release\":true}");
    return sms_buf_take(&b, NULL);
}

/* Every third assignment is past due; the others are due over the next weeks. */
/* anchor_ms: when its class was created (seed_resp_created_at). */
static char *assignment_body(const char *class_id, int64_t anchor_ms, long asg) {
    int64_t midnight = anchor_ms / DAY_MS * DAY_MS;
    int64_t days = asg % 3 == 0 ? -(1 + asg % 14) : 1 + asg % 30;
    char due[SMS_RFC3339_LEN];
    sms_buf_t b;
    sms_buf_init(&b);
    sms_buf_printf(&b, "{\"class_id\":\"%s\",\"title\":\"Assignment %ld\",\"due_at\":\"%s\",\"max_score\":100}",
                   class_id, asg + 1, sms_rfc3339(midnight + days * DAY_MS, due));
    return sms_buf_take(&b, NULL);
}

static size_t chunks(size_t n, size_t per) { return (n + per - 1) / per; }

/* One run of the seed: its options, the generated rosters, the users'
 * tokens and the ids the gateway gave back, plus the counts it reports. */
typedef struct {
    seed_t *s;
    scale_opts_t o;
    roster_t *rosters;
    size_t enrollments, n_roster_calls, n_grade_calls, n_grades, n_submissions, total, skipped;
    char **lecturers, **students;   /* tokens */
    char (*class_ids)[ID_LEN];      /* "" where the create failed */
    char (*asg_ids)[ID_LEN];
    int64_t *created_at;            /* per class */
} scale_t;

/* What will be sent, for the progress bar and the final counts. */
static void scale_count(scale_t *sc) {
    const scale_opts_t *o = &sc->o;
    for (long c = 0; c < o->classes; c++) sc->n_roster_calls += chunks(sc->rosters[c].n, ROSTER_CHUNK);
    for (long a = 0; a < o->assignments; a++) {
        const roster_t *ro = &sc->rosters[class_of(o, a)];
        sc->n_grade_calls += chunks(ro->n, GRADES_CHUNK);
        sc->n_grades += ro->n;
        for (size_t i = 0; i < ro->n; i++) sc->n_submissions += submits(ro->ids[i], a);
    }
    sc->total = (size_t)o->classes * 2 + sc->n_roster_calls + (size_t)o->assignments + sc->n_grade_calls +
                sc->n_submissions;
    fprintf(stderr, "seed scale '%s': %ld lecturers, %ld classes, %ld students, %zu enrollments, %ld assignments, "
                    "%zu grades, %zu submissions, %ld posts: %zu requests\n",
            o->run, o->lecturers, o->classes, o->students, sc->enrollments, o->assignments, sc->n_grades,
            sc->n_submissions, o->classes, sc->total);
}

static void scale_tokens(scale_t *sc) {
    const scale_opts_t *o = &sc->o;
    sc->lecturers = sms_calloc((size_t)o->lecturers, sizeof *sc->lecturers);
    for (long l = 0; l < o->lecturers; l++) {
        char sub[ID_LEN];
        snprintf(sub, sizeof sub, "%s-lecturer-%ld", o->run, l + 1);
        sc->lecturers[l] = seed_token(sc->s, sub, "lecturer");
    }
    sc->students = sms_calloc((size_t)o->students, sizeof *sc->students);
    for (long st = 0; st < o->students; st++) {
        char sid[ID_LEN];
        student_id(o, st, sid, sizeof sid);
        sc->students[st] = seed_token(sc->s, sid, "student");
    }
}

static void scale_classes(scale_t *sc) {
    const scale_opts_t *o = &sc->o;
    char key[160];
    admin_http_batch_t b;
    admin_http_batch_init(&b);
    for (long c = 0; c < o->classes; c++) {
        snprintf(key, sizeof key, "seed-%s:class:%ld", o->run, c + 1);
        char body[160];
        snprintf(body, sizeof body, "{\"code\":\"C%04ld\",\"name\":\"Course %ld\",\"term\":\"%s\"}", c + 1, c + 1,
                 o->run);
        admin_http_req_t *r = admin_http_batch_add(&b, "POST", sc->lecturers[lecturer_of(o, c)], key,
                                                   sms_strdup(body), "/lecturer/classes");
        r->tag = sc->class_ids[c];
    }
    seed_run(sc->s, &b, "classes");
    for (size_t i = 0; i < b.n; i++) {
        (void)seed_resp_id(b.reqs[i], b.reqs[i]->tag, ID_LEN);
        sc->created_at[i] = seed_resp_created_at(b.reqs[i]);
    }
    admin_http_batch_close(&b);
}

/* A class's roster calls and its welcome post. */
static void add_class_content(scale_t *sc, admin_http_batch_t *b, long c) {
    const scale_opts_t *o = &sc->o;
    const roster_t *ro = &sc->rosters[c];
    const char *tok = sc->lecturers[lecturer_of(o, c)];
    char key[160];
    for (size_t from = 0, k = 1; from < ro->n; from += ROSTER_CHUNK, k++) {
        size_t to = from + ROSTER_CHUNK < ro->n ? from + ROSTER_CHUNK : ro->n;
        snprintf(key, sizeof key, "seed-%s:roster:%ld:%zu", o->run, c + 1, k);
        admin_http_batch_add(b, "POST", tok, key, roster_body(o, ro, from, to), "/lecturer/classes/%s/students",
                             sc->class_ids[c]);
    }
    snprintf(key, sizeof key, "seed-%s:post:%ld", o->run, c + 1);
    char body[160];
    snprintf(body, sizeof body, "{\"title\":\"Welcome to Course %ld\",\"body\":\"The syllabus is online.\"}", c + 1);
    admin_http_batch_add(b, "POST", tok, key, sms_strdup(body), "/classes/%s/posts", sc->class_ids[c]);
}

/* Rosters, assignments and posts need only their class. */
static void scale_class_content(scale_t *sc) {
    const scale_opts_t *o = &sc->o;
    char key[160];
    admin_http_batch_t b;
    admin_http_batch_init(&b);
    for (long c = 0; c < o->classes; c++) {
        if (!sc->class_ids[c][0]) sc->skipped += chunks(sc->rosters[c].n, ROSTER_CHUNK) + 1;
        else add_class_content(sc, &b, c);
    }
    for (long a = 0; a < o->assignments; a++) {
        long c = class_of(o, a);
        if (!sc->class_ids[c][0]) {
            sc->skipped++;
            continue;
        }
        snprintf(key, sizeof key, "seed-%s:assignment:%ld", o->run, a + 1);
        admin_http_req_t *r = admin_http_batch_add(&b, "POST", sc->lecturers[lecturer_of(o, c)], key,
                                                   assignment_body(sc->class_ids[c], sc->created_at[c], a),
                                                   "/lecturer/assignments");
        r->tag = sc->asg_ids[a];
    }
    seed_run(sc->s, &b, "rosters/assignments");
    for (size_t i = 0; i < b.n; i++)
        if (b.reqs[i]->tag) (void)seed_resp_id(b.reqs[i], b.reqs[i]->tag, ID_LEN);
    admin_http_batch_close(&b);
}

/* An assignment's update-grades calls and its submissions. */
static void add_assignment_work(scale_t *sc, admin_http_batch_t *b, long a) {
    const scale_opts_t *o = &sc->o;
    long c = class_of(o, a);
    const roster_t *ro = &sc->rosters[c];
    char key[160];
    for (size_t from = 0, k = 1; from < ro->n; from += GRADES_CHUNK, k++) {
        size_t to = from + GRADES_CHUNK < ro->n ? from + GRADES_CHUNK : ro->n;
        snprintf(key, sizeof key, "seed-%s:grades:%ld:%zu", o->run, a + 1, k);
        admin_http_batch_add(b, "POST", sc->lecturers[lecturer_of(o, c)], key, grades_body(o, ro, a, from, to),
                             "/lecturer/assignments/%s/update-grades", sc->asg_ids[a]);
    }
    for (size_t i = 0; i < ro->n; i++) {
        if (!submits(ro->ids[i], a)) continue;
        snprintf(key, sizeof key, "seed-%s:submission:%ld", o->run, a + 1);
        char body[96];
        snprintf(body, sizeof body, "{\"text\":\"Answers to assignment %ld.\"}", a + 1);
        admin_http_batch_add(b, "POST", sc->students[ro->ids[i]], key, sms_strdup(body),
                             "/student/assignments/%s/submissions", sc->asg_ids[a]);
    }
}

/* Released grades for every enrolled student; some submissions. */
static void scale_grades(scale_t *sc) {
    admin_http_batch_t b;
    admin_http_batch_init(&b);
    for (long a = 0; a < sc->o.assignments; a++) {
        if (sc->asg_ids[a][0]) {
            add_assignment_work(sc, &b, a);
            continue;
        }
        const roster_t *ro = &sc->rosters[class_of(&sc->o, a)];
        sc->skipped += chunks(ro->n, GRADES_CHUNK);
        for (size_t i = 0; i < ro->n; i++) sc->skipped += submits(ro->ids[i], a);
    }
    seed_run(sc->s, &b, "grades/submissions");
    admin_http_batch_close(&b);
}

static void scale_report(const scale_t *sc) {
    const scale_opts_t *o = &sc->o;
    const seed_t *s = sc->s;
    double secs = (double)admin_progress_elapsed_ms(&s->progress) / 1000.0;
    printf("lecturers %ld\nclasses %ld\nstudents %ld\nenrollments %zu\nassignments %ld\ngrades %zu\n"
           "submissions %zu\nposts %ld\nrequests %zu\nfailed %zu\nelapsed_s %.1f\n",
           o->lecturers, o->classes, o->students, sc->enrollments, o->assignments, sc->n_grades, sc->n_submissions,
           o->classes, s->requests, s->failed, secs);
    fprintf(stderr, "seed scale '%s': %zu requests in %.1f s (%.0f/s), %zu failed; lecturers are %s-lecturer-1..%ld\n",
            o->run, s->requests, secs, secs > 0 ? (double)s->requests / secs : 0.0, s->failed, o->run, o->lecturers);
}

static void scale_free(scale_t *sc) {
    for (long l = 0; l < sc->o.lecturers; l++) sms_free(sc->lecturers[l]);
    for (long st = 0; st < sc->o.students; st++) sms_free(sc->students[st]);
    sms_free(sc->lecturers);
    sms_free(sc->students);
    sms_free(sc->class_ids);
    sms_free(sc->asg_ids);
    sms_free(sc->created_at);
    free_rosters(&sc->o, sc->rosters);
}

int seed_scale(seed_t *s, int argc, char **argv) {
    scale_t sc = {.s = s};
    if (parse_opts(argc, argv, &sc.o) != 0) return 2;
    if (sc.o.lecturers > sc.o.classes) {
        /* A lecturer without a class would only be a token nobody uses. */
        fprintf(stderr, "seed scale: %ld lecturers for %ld classes; using %ld\n", sc.o.lecturers, sc.o.classes,
                sc.o.classes);
        sc.o.lecturers = sc.o.classes;
    }
    sc.rosters = build_rosters(&sc.o, &sc.enrollments);
    scale_count(&sc);
    scale_tokens(&sc);
    sc.class_ids = sms_calloc((size_t)sc.o.classes, ID_LEN);
    sc.asg_ids = sms_calloc((size_t)(sc.o.assignments ? sc.o.assignments : 1), ID_LEN);
    sc.created_at = sms_calloc((size_t)sc.o.classes, sizeof *sc.created_at);
    admin_progress_init(&s->progress, sc.total);
    scale_classes(&sc);
    scale_class_content(&sc);
    scale_grades(&sc);
    seed_skip(s, sc.skipped, "requests");
    admin_progress_clear(&s->progress);
    scale_report(&sc);
    scale_free(&sc);
    if (s->failed) {
        fprintf(stderr, "seed scale: %zu requests failed or were skipped; see above\n", s->failed);
        return 1;
    }
    return 0;
}
