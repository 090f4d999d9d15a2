/* seed_demo.c - `sms-admin seed demo`: the seed worklog's demo set ("5 sample
 * classes (CS101, MATH201, etc.), 20 test students, 10 assignments with
 * various due dates, sample grades and feedback, 5 announcements") loaded
 * through the gateway, then tokens and curl lines to try it. Called by seed.c. */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "seed.h"

#define N_CLASSES 5
#define N_STUDENTS 20
#define PER_CLASS 2 /* assignments per class: one past due, one ahead */
#define DAY_MS (24LL * 3600 * 1000)
#define KEY_PREFIX "seed-demo"
#define LECTURER "demo-lecturer"

typedef struct {
    const char *code, *name, *description;
    const char *titles[PER_CLASS];
    const char *post_title, *post_body;
} demo_class_t;

static const demo_class_t CLASSES[N_CLASSES] = {
    {"CS101", "Introduction to Programming", "Variables, control flow, functions and a first taste of C.",
     {"Problem set 1: variables and loops", "Project: a text adventure"},
     "Welcome to CS101", "Labs start in week 2. Bring a laptop with a C compiler installed."},
    {"MATH201", "Linear Algebra", "Vector spaces, linear maps, eigenvalues.",
     {"Homework 1: Gaussian elimination", "Homework 2: eigenvalues"},
     "Office hours", "Office hours are on Tuesdays 14:00-16:00 in room B204."},
    {"PHYS110", "Mechanics", "Newton's laws, energy, momentum and rotation.",
     {"Lab report: free fall", "Problem set: rotation"},
     "Lab safety", "Read the lab safety sheet before the first lab session."},
    {"ENG105", "Academic Writing", "Structuring arguments and citing sources.",
     {"Essay outline", "Final essay"},
     "Essay topics", "The list of essay topics is up; pick one by Friday."},
    {"HIST210", "Modern World History", "From 1789 to the end of the Cold War.",
     {"Reading response: the French Revolution", "Research paper proposal"},
     "Guest lecture", "Next week's lecture is given by a guest speaker from the city archive."},
};

static const char *const NAMES[N_STUDENTS] = {
    "Ada Lovelace",   "Alan Turing",     "Grace Hopper",    "Edsger Dijkstra", "Barbara Liskov",
    "Donald Knuth",   "Margaret Hamilton", "Ken Thompson",  "Frances Allen",   "John Backus",
    "Radia Perlman",  "Dennis Ritchie",  "Katherine Johnson", "Tony Hoare",    "Hedy Lamarr",
    "Niklaus Wirth",  "Shafi Goldwasser", "Leslie Lamport", "Sophie Wilson",   "Linus Torvalds",
};

static const char *const FEEDBACK[] = {
    "Good structure, clear reasoning.", "Check your edge cases.", "Excellent work.",
    "Show your intermediate steps.",    "Well argued; cite your sources.", "Neat and complete.",
};

/* Student i is in classes i % 5 and (i + 2) % 5: two classes each, eight per class. */
static int enrolled(int student, int cls) { return student % N_CLASSES == cls || (student + 2) % N_CLASSES == cls; }

static void student_id(int i, char *out, size_t n) { snprintf(out, n, "s-%d", 1001 + i); }

/* Grades of the first (past due) assignment are released in the first three
 * classes and drafts in the other two. */
static int released(int cls) { return cls < 3; }

static char *class_body(const demo_class_t *c) {
    sms_buf_t b;
    sms_buf_init(&b);
    sms_buf_puts(&b, "{\"code\":");
    sms_buf_json_str(&b, c->code, strlen(c->code));
    sms_buf_puts(&b, ",\"name\":");
    sms_buf_json_str(&b, c->name, strlen(c->name));
    sms_buf_puts(&b, ",\"description\":");
    sms_buf_json_str(&b, c->description, strlen(c->description));
    sms_buf_puts(&b, ",\"term\":\"2026-fall\"}");
    return sms_buf_take(&b, NULL);
}

static char *roster_body(int cls) {
    sms_buf_t b;
    sms_buf_init(&b);
    sms_buf_puts(&b, "{\"students\":[");
    int first = 1;
    for (int i = 0; i < N_STUDENTS; i++) {
        if (!enrolled(i, cls)) continue;
        char sid[16], email[64];
        student_id(i, sid, sizeof sid);
        snprintf(email, sizeof email, "%s@demo.school.edu", sid);
        sms_buf_printf(&b, "%s{\"student_id\":\"%s\",\"name\":", first ? "" : ",", sid);
        sms_buf_json_str(&b, NAMES[i], strlen(NAMES[i]));
        sms_buf_printf(&b, ",\"email\":\"%s\"}", email);
        first = 0;
    }
    sms_buf_puts(&b, "]}");
    return sms_buf_take(&b, NULL);
}

/* Due dates at 23:59 UTC: the first assignment of class c is 10 - c days
 * past, the second 7 + 3c days ahead. */
static int64_t due_ms(int64_t anchor_ms, int cls, int k) {
    int64_t midnight = anchor_ms / DAY_MS * DAY_MS;
    int64_t days = k == 0 ? -(10 - cls) : 7 + 3 * cls;
    return midnight + days * DAY_MS + (23 * 60 + 59) * 60 * 1000LL;
}

/* anchor_ms: when the class was created (seed_resp_created_at). */
static char *assignment_body(const char *class_id, int64_t anchor_ms, int cls, int k) {
    char due[SMS_RFC3339_LEN];
    sms_buf_t b;
    sms_buf_init(&b);
    sms_buf_printf(&b, "{\"class_id\":\"%s\",\"title\":", class_id);
    sms_buf_json_str(&b, CLASSES[cls].titles[k], strlen(CLASSES[cls].titles[k]));
    sms_buf_printf(&b, ",\"description\":\"Hand in through the student API.\",\"due_at\":\"%s\",\"max_score\":%d}",
                   sms_rfc3339(due_ms(anchor_ms, cls, k), due), k == 0 ? 20 : 100);
    return sms_buf_take(&b, NULL);
}

static char *grades_body(int cls) {
    sms_buf_t b;
    sms_buf_init(&b);
    sms_buf_puts(&b, "{\"grades\":[");
    int first = 1;
    for (int i = 0; i < N_STUDENTS; i++) {
        if (!enrolled(i, cls)) continue;
        char sid[16];
        student_id(i, sid, sizeof sid);
        /* Out of 20, in half points. */
        int halves = 24 + (i * 7 + cls * 13) % 17;
        const char *fb = FEEDBACK[(i + cls) % (sizeof FEEDBACK / sizeof *FEEDBACK)];
        sms_buf_printf(&b, "%s{\"student_id\":\"%s\",\"score\":%d.%d,\"feedback\":", first ? "" : ",", sid,
                       halves / 2, halves % 2 ? 5 : 0);
        sms_buf_json_str(&b, fb, strlen(fb));
        sms_buf_putc(&b, '}');
        first = 0;
    }
    sms_buf_printf(&b, "],\"release\":%s}", released(cls) ? "true" : "false");
    return sms_buf_take(&b, NULL);
}

static char *post_body(int cls) {
    const demo_class_t *c = &CLASSES[cls];
    sms_buf_t b;
    sms_buf_init(&b);
    sms_buf_puts(&b, "{\"title\":");
    sms_buf_json_str(&b, c->post_title, strlen(c->post_title));
    sms_buf_puts(&b, ",\"body\":");
    sms_buf_json_str(&b, c->post_body, strlen(c->post_body));
    sms_buf_printf(&b, ",\"pinned\":%s}", cls == 0 ? "true" : "false");
    return sms_buf_take(&b, NULL);
}

/* The first enrolled student of the class submits to both of its assignments. */
static int first_student(int cls) {
    for (int i = 0; i < N_STUDENTS; i++)
        if (enrolled(i, cls)) return i;
    return -1;
}

static void print_try(const char *url, const char *lecturer, char *const students[2], const char *class_id) {
    printf("\nDemo data loaded at %s.\n\n", url);
    printf("Lecturer %s:\n  export TOKEN=%s\n", LECTURER, lecturer);
    printf("Student s-1001 (Ada Lovelace):\n  export STUDENT_TOKEN=%s\n", students[0]);
    printf("Student s-1002 (Alan Turing):\n  export STUDENT2_TOKEN=%s\n\n", students[1]);
    printf("Try:\n");
    printf("  curl -sS '%s/lecturer/classes?limit=20' -H \"Authorization: Bearer $TOKEN\"\n", url);
    printf("  curl -sS '%s/lecturer/students/%s' -H \"Authorization: Bearer $TOKEN\"\n", url, class_id);
    printf("  curl -sS '%s/lecturer/classes/%s/assignments' -H \"Authorization: Bearer $TOKEN\"\n", url, class_id);
    printf("  curl -sS '%s/classes/%s/posts' -H \"Authorization: Bearer $STUDENT_TOKEN\"\n", url, class_id);
    printf("  curl -sS '%s/student/classes' -H \"Authorization: Bearer $STUDENT_TOKEN\"\n", url);
    printf("  curl -sS '%s/student/grades' -H \"Authorization: Bearer $STUDENT_TOKEN\"\n", url);
}

/* The demo's state between its three rounds of requests. */
typedef struct {
    seed_t *s;
    char *lecturer;
    char *students[N_STUDENTS];
    char class_ids[N_CLASSES][64];
    int64_t created_at[N_CLASSES];
    char assignment_ids[N_CLASSES][PER_CLASS][64];
    size_t skipped;
} demo_t;

static void demo_classes(demo_t *d) {
    char key[128];
    admin_http_batch_t b;
    admin_http_batch_init(&b);
    for (int c = 0; c < N_CLASSES; c++) {
        snprintf(key, sizeof key, KEY_PREFIX ":class:%s", CLASSES[c].code);
        admin_http_batch_add(&b, "POST", d->lecturer, key, class_body(&CLASSES[c]), "/lecturer/classes");
    }
    seed_run(d->s, &b, "classes");
    for (int c = 0; c < N_CLASSES; c++) {
        (void)seed_resp_id(b.reqs[c], d->class_ids[c], sizeof d->class_ids[c]);
        d->created_at[c] = seed_resp_created_at(b.reqs[c]);
    }
    admin_http_batch_close(&b);
}

/* A class's roster, assignments and post. */
static void add_class_content(demo_t *d, admin_http_batch_t *b, int c) {
    char key[128];
    const char *code = CLASSES[c].code;
    snprintf(key, sizeof key, KEY_PREFIX ":roster:%s", code);
    admin_http_batch_add(b, "POST", d->lecturer, key, roster_body(c), "/lecturer/classes/%s/students",
                         d->class_ids[c]);
    for (int k = 0; k < PER_CLASS; k++) {
        snprintf(key, sizeof key, KEY_PREFIX ":assignment:%s:%d", code, k + 1);
        admin_http_req_t *r = admin_http_batch_add(b, "POST", d->lecturer, key,
                                                   assignment_body(d->class_ids[c], d->created_at[c], c, k),
                                                   "/lecturer/assignments");
        r->tag = d->assignment_ids[c][k];
    }
    snprintf(key, sizeof key, KEY_PREFIX ":post:%s", code);
    admin_http_batch_add(b, "POST", d->lecturer, key, post_body(c), "/classes/%s/posts", d->class_ids[c]);
}

/* Rosters, assignments and posts need only their class. */
static void demo_class_content(demo_t *d) {
    admin_http_batch_t b;
    admin_http_batch_init(&b);
    for (int c = 0; c < N_CLASSES; c++) {
        if (d->class_ids[c][0]) add_class_content(d, &b, c);
        else d->skipped += 3 + PER_CLASS * 2; /* roster, post, grades; per assignment: create, submission */
    }
    seed_run(d->s, &b, "rosters/assignments");
    for (size_t i = 0; i < b.n; i++)
        if (b.reqs[i]->tag) (void)seed_resp_id(b.reqs[i], b.reqs[i]->tag, 64);
    admin_http_batch_close(&b);
}

/* A class's grades (first assignment) and one student's submissions. */
static void add_class_work(demo_t *d, admin_http_batch_t *b, int c) {
    char key[128];
    const char *code = CLASSES[c].code;
    if (d->assignment_ids[c][0][0]) {
        snprintf(key, sizeof key, KEY_PREFIX ":grades:%s:1", code);
        admin_http_batch_add(b, "POST", d->lecturer, key, grades_body(c), "/lecturer/assignments/%s/update-grades",
                             d->assignment_ids[c][0]);
    } else {
        d->skipped++;
    }
    int st = first_student(c);
    for (int k = 0; k < PER_CLASS; k++) {
        if (!d->assignment_ids[c][k][0]) {
            d->skipped++;
            continue;
        }
        snprintf(key, sizeof key, KEY_PREFIX ":submission:%s:%d", code, k + 1);
        char body[256];
        snprintf(body, sizeof body, "{\"text\":\"My answer to '%s', version 1.\"}", CLASSES[c].titles[k]);
        admin_http_batch_add(b, "POST", d->students[st], key, sms_strdup(body), "/student/assignments/%s/submissions",
                             d->assignment_ids[c][k]);
    }
}

/* Grades of the past-due assignments; a text submission per assignment. */
static void demo_work(demo_t *d) {
    admin_http_batch_t b;
    admin_http_batch_init(&b);
    for (int c = 0; c < N_CLASSES; c++)
        if (d->class_ids[c][0]) add_class_work(d, &b, c);
    seed_run(d->s, &b, "grades/submissions");
    admin_http_batch_close(&b);
}

/* The counts and the commands to try, once everything landed. */
static void demo_report(const demo_t *d, const char *url) {
    /* Every enrolled student is graded on the class's first assignment. */
    int enrollments = 0;
    for (int c = 0; c < N_CLASSES; c++)
        for (int i = 0; i < N_STUDENTS; i++) enrollments += enrolled(i, c);
    printf("classes %d\nstudents %d\nenrollments %d\nassignments %d\ngrades %d\nsubmissions %d\nposts %d\n", N_CLASSES,
           N_STUDENTS, enrollments, N_CLASSES * PER_CLASS, enrollments, N_CLASSES * PER_CLASS, N_CLASSES);
    char *two[2] = {d->students[0], d->students[1]};
    print_try(url, d->lecturer, two, d->class_ids[0]);
}

int seed_demo(seed_t *s, const char *url) {
    demo_t *d = sms_calloc(1, sizeof *d);
    d->s = s;
    d->lecturer = seed_token(s, LECTURER, "lecturer");
    for (int i = 0; i < N_STUDENTS; i++) {
        char sid[16];
        student_id(i, sid, sizeof sid);
        d->students[i] = seed_token(s, sid, "student");
    }
    /* classes + rosters + assignments + posts + grades + submissions */
    admin_progress_init(&s->progress, N_CLASSES * (3 + 2 * PER_CLASS) + N_CLASSES);
    demo_classes(d);
    demo_class_content(d);
    demo_work(d);
    seed_skip(s, d->skipped, "requests");
    admin_progress_clear(&s->progress);

    double secs = (double)admin_progress_elapsed_ms(&s->progress) / 1000.0;
    fprintf(stderr, "seed demo: %zu requests in %.1f s, %zu failed\n", s->requests, secs, s->failed);
    int rc = 0;
    if (s->failed) {
        fprintf(stderr, "seed demo: %zu requests failed or were skipped; see above\n", s->failed);
        rc = 1;
    } else {
        demo_report(d, url);
    }
    sms_free(d->lecturer);
    for (int i = 0; i < N_STUDENTS; i++) sms_free(d->students[i]);
    sms_free(d);
    return rc;
}
