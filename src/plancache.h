/*
 * A cache of parsed plans, so that status and audit on a thousand plans
 * need not parse a thousand YAML files on every run.
 *
 * Entries are keyed by the file's path and identity (device, inode, size,
 * modification and change times in nanoseconds).  Correctness never depends on the
 * cache: a changed, new or unreadable file is parsed again, a malformed or
 * foreign cache file is ignored, plans that fail to load are never cached
 * (their diagnostics come from a fresh parse), and a file changed less
 * than two seconds before the cache is written is not cached, so that an
 * edit within the same timestamp tick cannot hide.
 */
#ifndef EXCON_PLANCACHE_H
#define EXCON_PLANCACHE_H

#include "plan.h"

/*
 * plan_set_load() with a cache file at cache_path (NULL = no cache).  The
 * cache is rewritten (atomically, mode 0600) when anything changed; a
 * failure to write it is ignored.
 */
int plan_set_load_cached(struct plan_set *set, char *const *dirs,
    const char *cache_path, struct plan_diags *diags);
/*
 * The same for a command about the one plan called want (status PLAN),
 * when want is not NULL: every file is still checked against its entry
 * and a changed one parsed (so that its errors are reported as before),
 * but of the unchanged ones only want and the plans it depends on are
 * decoded into set, unless two files define the same plan name.
 */
int plan_set_load_cached_for(struct plan_set *set, char *const *dirs,
    const char *cache_path, const char *want, struct plan_diags *diags);

#endif
