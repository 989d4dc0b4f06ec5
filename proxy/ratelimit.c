#include "proxy/ratelimit.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "filters/policy/policy.h"

struct rl_slot {
	atomic_uint_fast64_t key; /* hash of the identity or address, never 0; 0: free */
	atomic_uint_fast64_t tat; /* theoretical arrival time of the next call, CLOCK_MONOTONIC ns */
};

struct rl_rule {
	const struct rate_limit_config *cfg;
	uint64_t interval_ns; /* T = 1 s / rate */
	uint64_t tolerance_ns; /* burst * T */
	uint64_t *actions;     /* catalog id bitset; NULL: every action */
	struct rl_slot *slots; /* RATELIMIT_SLOTS */
};

struct ratelimit {
	struct rl_rule *rules;
	size_t n;
};

static uint64_t
rl_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a 64 */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h | 1; /* never 0: 0 marks a free slot */
}

struct ratelimit *
ratelimit_new(const struct rate_limit_config *rules, size_t n)
{
	struct ratelimit *rl;
	size_t i, k, a, words = (catalog_count() + 63) / 64;

	if (n == 0 || n > RATELIMIT_MAX_RULES || (rl = calloc(1, sizeof(*rl))) == NULL)
		return NULL;
	if ((rl->rules = calloc(n, sizeof(*rl->rules))) == NULL) {
		free(rl);
		return NULL;
	}
	rl->n = n;
	for (i = 0; i < n; i++) {
		struct rl_rule *r = &rl->rules[i];
		double t = 1e9 / rules[i].rate;

		r->cfg = &rules[i];
		r->interval_ns = t < 1 ? 1 : (uint64_t)t;
		r->tolerance_ns = r->interval_ns * rules[i].burst;
		if ((r->slots = calloc(RATELIMIT_SLOTS, sizeof(*r->slots))) == NULL)
			goto fail;
		if (rules[i].nactions == 0)
			continue;
		if ((r->actions = calloc(words, sizeof(uint64_t))) == NULL)
			goto fail;
		for (a = 0; a < catalog_count(); a++)
			for (k = 0; k < rules[i].nactions; k++)
				if (policy_glob_match(rules[i].actions[k], catalog_at(a)->iam_action, true))
					r->actions[a / 64] |= 1ull << (a % 64);
	}
	return rl;
fail:
	ratelimit_free(rl);
	return NULL;
}

void
ratelimit_free(struct ratelimit *rl)
{
	size_t i;

	if (rl == NULL)
		return;
	for (i = 0; i < rl->n; i++) {
		free(rl->rules[i].actions);
		free(rl->rules[i].slots);
	}
	free(rl->rules);
	free(rl);
}

static bool
rl_applies(const struct rl_rule *r, const char *identity, const char *source_ip,
    const struct catalog_action *action, const struct inspect_result *res)
{
	const struct rate_limit_config *c = r->cfg;
	size_t i, k;

	if (c->per_source ? source_ip == NULL : identity == NULL)
		return false;
	if (c->identity != NULL && (identity == NULL || strcmp(c->identity, identity) != 0))
		return false;
	if (r->actions != NULL && (action == NULL || !(r->actions[action->id / 64] & (1ull << (action->id % 64)))))
		return false;
	if (c->ntables == 0)
		return true;
	for (i = 0; res != NULL && i < res->n; i++)
		for (k = 0; res->res[i].table != NULL && k < c->ntables; k++)
			if (strcmp(res->res[i].table, c->tables[k]) == 0)
				return true;
	return false;
}

/* The bucket of `key`: its own slot, a free one, an idle one taken over, or (all busy) a shared one. */
static struct rl_slot *
rl_slot_of(struct rl_rule *r, uint64_t key, uint64_t now)
{
	uint_fast64_t k, want;
	size_t i;

	for (i = 0; i < RATELIMIT_PROBES; i++) {
		struct rl_slot *s = &r->slots[(key + i) & (RATELIMIT_SLOTS - 1)];

		k = atomic_load_explicit(&s->key, memory_order_acquire);
		if (k == key)
			return s;
		want = 0;
		if (k == 0 && atomic_compare_exchange_strong(&s->key, &want, key))
			return s;
		if (want == key)
			return s; /* another thread just claimed it for the same key */
	}
	for (i = 0; i < RATELIMIT_PROBES; i++) {
		struct rl_slot *s = &r->slots[(key + i) & (RATELIMIT_SLOTS - 1)];

		/* Idle (full again): whoever had it would start from a full bucket anyway. */
		k = atomic_load_explicit(&s->key, memory_order_acquire);
		if (atomic_load_explicit(&s->tat, memory_order_relaxed) <= now &&
		    atomic_compare_exchange_strong(&s->key, &k, key))
			return s;
	}
	return &r->slots[key & (RATELIMIT_SLOTS - 1)];
}

static bool
rl_take(struct rl_rule *r, struct rl_slot *s, uint64_t now)
{
	uint_fast64_t tat = atomic_load_explicit(&s->tat, memory_order_relaxed), next;

	for (;;) {
		next = (tat > now ? tat : now) + r->interval_ns;
		if (next - now > r->tolerance_ns)
			return false;
		if (atomic_compare_exchange_weak_explicit(&s->tat, &tat, next, memory_order_relaxed,
			memory_order_relaxed))
			return true;
	}
}

const struct rate_limit_config *
ratelimit_take(struct ratelimit *rl, const char *identity, const char *source_ip,
    const struct catalog_action *action, const struct inspect_result *res, uint64_t now_ns)
{
	struct {
		struct rl_slot *slot;
		uint64_t interval_ns;
	} taken[RATELIMIT_MAX_RULES];
	size_t i, ntaken = 0, k;

	if (rl == NULL)
		return NULL;
	for (i = 0; i < rl->n; i++) {
		struct rl_rule *r = &rl->rules[i];
		struct rl_slot *s;

		if (!rl_applies(r, identity, source_ip, action, res))
			continue;
		s = rl_slot_of(r, rl_hash(r->cfg->per_source ? source_ip : identity), now_ns);
		if (!rl_take(r, s, now_ns)) {
			/* Give back what this call took from the buckets before: it is not going through. */
			for (k = 0; k < ntaken; k++)
				atomic_fetch_sub(&taken[k].slot->tat, taken[k].interval_ns);
			return r->cfg;
		}
		if (ntaken < RATELIMIT_MAX_RULES) {
			taken[ntaken].slot = s;
			taken[ntaken++].interval_ns = r->interval_ns;
		}
	}
	return NULL;
}
