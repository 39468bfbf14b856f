/*
 * handle_auth.c - AUTH (5.0) and the life of a session's access token: the
 * expiry timer that ends the session at the token's exp, and
 * re-authentication, where a client that connected with Authentication
 * Method "jwt" sends AUTH (0x19 Re-authenticate) with a fresh token in
 * Authentication Data [MQTT-4.12.1]. The new token is verified on an auth
 * worker like a CONNECT's; it must name the same subject (the session's user
 * name is passed as the required user), and on success the session's
 * permissions and expiry are replaced without a reconnect. Any failure ends
 * the connection with a DISCONNECT giving the reason.
 */
#include <string.h>
#include <time.h>

#include "auth.h"
#include "broker.h"
#include "codec.h"
#include "conn.h"
#include "log.h"
#include "session.h"
#include "tokauth.h"

static void token_expired(struct loop_timer *t)
{
    struct tokauth *tok = container_of(t, struct tokauth, expiry);
    struct conn *c = tok->owner;
    log_notice("disconnecting client=%s addr=%s: access token of %s expired",
               c->s ? c->s->client_id : "-", c->addr, tok->sub);
    /* 5.0: 0xA0 Maximum connect time; 3.1.1 has no reason to give: close. */
    conn_close(c, MQTT_RC_MAX_CONNECT_TIME, true, true);
}

void handle_auth_token_attach(struct conn *c, struct tokauth *tok)
{
    struct loop *l = c->b->loop;
    if (c->token) {
        loop_timer_cancel(l, &c->token->expiry);
        tokauth_free(c->token);
    }
    c->token = tok;
    tok->owner = c;
    loop_timer_init(&tok->expiry, token_expired);
    int64_t now_ms = (int64_t)broker_wall() * 1000;
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
        now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int64_t left = tok->exp * 1000 - now_ms;
    loop_timer_arm(l, &tok->expiry, left > 0 ? (uint64_t)left : 0);
}

/* The worker's answer to a re-authentication (broker thread). */
static void reauthed(void *ctx, enum auth_refusal r, struct perms *perms)
{
    struct conn *c = ctx;
    const char *why = NULL;
    struct tokauth *tok = auth_ticket_token(c->ticket, &why);
    c->ticket = NULL;
    if (c->state != CONN_ACTIVE || !c->s) {
        perms_unref(perms);
        tokauth_free(tok);
        return;
    }
    if (r == AR_NONE && tok && auth_identity_banned(c->b->auth, tok->sub, NULL, NULL)) {
        r = AR_BANNED;
        why = "token subject banned";
    }
    if (r != AR_NONE || !tok) {
        log_notice("re-authentication of client=%s addr=%s refused: %s", c->s->client_id,
                   c->addr, why ? why : auth_refusal_text(r));
        perms_unref(perms);
        tokauth_free(tok);
        /* A bad token is not authorized (0x86 is no DISCONNECT code); a full queue is busy;
         * an introspection service that cannot answer is unavailable. */
        conn_close(c, r == AR_BUSY          ? MQTT_RC_SERVER_BUSY
                      : r == AR_BANNED      ? MQTT_RC_BANNED
                      : r == AR_UNAVAILABLE ? MQTT_RC_SERVER_UNAVAILABLE
                                            : MQTT_RC_NOT_AUTHORIZED,
                   true, true);
        return;
    }
    tok->reauth = true;
    log_info("client=%s re-authenticated (token of %s, %lld s left)", c->s->client_id, tok->sub,
             (long long)(tok->exp - (int64_t)time(NULL)));
    handle_auth_token_attach(c, tok);
    session_set_perms(c->s, perms, false);
    perms_unref(perms);
    session_recheck(c->s);
    struct mqtt_auth a = {.reason = MQTT_RC_SUCCESS};
    a.props.present = MQTT_PROP_BIT(MQTT_P_AUTH_METHOD);
    a.props.auth_method =
        (struct mqtt_str){(const uint8_t *)TOKAUTH_METHOD, (uint32_t)strlen(TOKAUTH_METHOD)};
    codec_encode_auth(&c->out, &a);
    conn_mark_output(c);
}

void handle_auth(struct conn *c, struct mqtt_packet *p)
{
    const struct mqtt_auth *a = &p->u.auth;
    const struct mqtt_props *pr = &a->props;
    const char *cid = c->s ? c->s->client_id : "-";
    bool method = (pr->present & MQTT_PROP_BIT(MQTT_P_AUTH_METHOD)) &&
                  pr->auth_method.len == strlen(TOKAUTH_METHOD) &&
                  memcmp(pr->auth_method.p, TOKAUTH_METHOD, pr->auth_method.len) == 0;
    if (!c->token || !c->token->reauth || !method) {
        /* [MQTT-4.12.0-7]: no method at CONNECT, or another one now. */
        log_info("AUTH from client=%s addr=%s without the connect's authentication method", cid,
                 c->addr);
        conn_close(c, MQTT_RC_PROTOCOL_ERROR, true, true);
        return;
    }
    if (a->reason != MQTT_RC_REAUTHENTICATE || c->ticket) {
        log_info("AUTH from client=%s addr=%s: reason 0x%02x%s", cid, c->addr, a->reason,
                 c->ticket ? " while re-authenticating" : " (not re-authenticate)");
        conn_close(c, MQTT_RC_PROTOCOL_ERROR, true, true);
        return;
    }
    struct auth_ticket *t = NULL;
    enum auth_refusal r =
        auth_token(c->b->auth, c->ip, cid, c->username, strlen(c->username), pr->auth_data.p,
                   pr->auth_data.len, reauthed, c, &t);
    if (r != AR_NONE) {
        conn_close(c, r == AR_BUSY ? MQTT_RC_SERVER_BUSY : MQTT_RC_NOT_AUTHORIZED, true, true);
        return;
    }
    c->ticket = t;
}
