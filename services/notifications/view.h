/* view.h - the notifications view's Redis layout, stated once: the key
 * prefix, every key's name, the hash fields and the pub/sub channel that
 * readers use. The service writes these keys (projection.c, webhooks.c, its
 * Lua scripts by string concatenation of these macros), reads them to decide
 * (state.c), the delivery consumers read them (email.c, webhook.c), and the
 * gateway's routes read them too. Only string literals, so a C file and a
 * Lua script use the same names; needs nothing but the preprocessor.
 *
 * Keys (every one a pure function of the log, so a replay of the log gives
 * the same view byte for byte):
 *   roster:<class>   hash student id -> display name   (sms.events.classes)
 *   emails           hash student id -> email address (from enrollments; sms-notify-email):
 *                    the enrollment with the greatest event id wins, whatever order
 *                    a replay applies the classes' partitions in
 *   emails_by        hash student id -> that enrollment event's id
 *   rv               hash class id -> roster_version applied (gates roster events)
 *   webhooks         hash webhook id -> public JSON {id,url,events,created_at}
 *   whsecret         hash webhook id -> the signing secret (never served)
 *   n:<id>           inbox item JSON without its closing brace (SETNX: once per id)
 *   count            how many n:<id> exist (INCR when SETNX takes an id): an O(1) progress read
 *   inbox:<user>     zset, all scores 0, member = notification id (ULID: lex = time order)
 *   unreadz:<user>   the unread subset of inbox:<user> (same layout; ZCARD = unread count)
 *   feed:<user>      zset, member = notification id, score = its (first) offset on
 *                    sms.notifications: the order the gateway's SSE stream sends
 *                    them in, and its event ids (a user's notifications share a
 *                    partition, their key, so the offsets only grow)
 *   read:<user>      set of ids marked read by id (applied even if the item comes later)
 *   rall:<user>      "read all" watermark: every id <= it is read (also later arrivals)
 *   prefs:<user>     preferences JSON (schema.h)
 *   cmds, offsets, meta: the worker's bookkeeping (common/worker.h); meta's
 *                    field `built` says the view holds the whole log
 * An item is unread iff it is not in read:<user> and its id > rall:<user>,
 * whatever order the two topics' events are applied in. */
#ifndef NOTIF_VIEW_H
#define NOTIF_VIEW_H

#define NOTIF_VIEW_PREFIX "sms:notifications:"
/* The whole key of a name below: NOTIF_VIEW_KEY(NOTIF_VIEW_EMAILS), or
 * NOTIF_VIEW_KEY(NOTIF_VIEW_INBOX) followed by the user id. */
#define NOTIF_VIEW_KEY(name) NOTIF_VIEW_PREFIX name

/* Key names under the prefix; a name ending in ':' is followed by an id. */
#define NOTIF_VIEW_ROSTER "roster:"   /* + class id */
#define NOTIF_VIEW_EMAILS "emails"
#define NOTIF_VIEW_EMAILS_BY "emails_by" /* student id -> the enrollment event id its email came from */
#define NOTIF_VIEW_RV "rv"
#define NOTIF_VIEW_WEBHOOKS "webhooks"
#define NOTIF_VIEW_WHSECRET "whsecret"
#define NOTIF_VIEW_ITEM "n:"          /* + notification id */
#define NOTIF_VIEW_COUNT "count"
#define NOTIF_VIEW_INBOX "inbox:"     /* + user id */
#define NOTIF_VIEW_UNREAD "unreadz:"  /* + user id */
#define NOTIF_VIEW_FEED "feed:"       /* + user id */
#define NOTIF_VIEW_READ "read:"       /* + user id */
#define NOTIF_VIEW_READ_ALL "rall:"   /* + user id */
#define NOTIF_VIEW_PREFS "prefs:"     /* + user id */
#define NOTIF_VIEW_CMDS "cmds"
#define NOTIF_VIEW_OFFSETS "offsets"
#define NOTIF_VIEW_META "meta"
#define NOTIF_VIEW_META_BUILT "built" /* field of meta */

/* Where the inbox script publishes the recipients of new items, one message
 * per script run, user ids separated by newlines (the gateway's
 * notification streams read their feeds then). */
#define NOTIF_VIEW_CHANNEL_NEW NOTIF_VIEW_KEY("new")

#endif
