/*
 * The plan cache (see plancache.h).  File format, native-endian:
 *   "EXCONPC" NUL, u32 format, u32 length + excon version,
 *   u32 count, then per entry (sorted by path):
 *   u32 length + path, u64 dev, ino, size, mtime s/ns, ctime s/ns,
 *   u32 length + plan_encode() bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "plancache.h"
#include "xalloc.h"

#define CACHE_MAGIC	"EXCONPC"
#define CACHE_FORMAT	7u

struct centry {
	const char	*path;		/* points into the cache bytes, not NUL-ended */
	uint32_t	 pathlen;
	uint64_t	 id[7];		/* dev, ino, size, mtime s/ns, ctime s/ns */
	const char	*blob;
	uint32_t	 bloblen;
};

struct cache {
	char		*bytes;
	size_t		 len;
	struct centry	*v;
	size_t		 n;
};

/* File identity of st, as stored in the cache. */
static void
identity(const struct stat *st, uint64_t id[7])
{
	id[0] = (uint64_t)st->st_dev;
	id[1] = (uint64_t)st->st_ino;
	id[2] = (uint64_t)st->st_size;
	id[3] = (uint64_t)st->st_mtim.tv_sec;
	id[4] = (uint64_t)st->st_mtim.tv_nsec;
	/* ctime cannot be set back by hand, unlike mtime (touch -d). */
	id[5] = (uint64_t)st->st_ctim.tv_sec;
	id[6] = (uint64_t)st->st_ctim.tv_nsec;
}

/* Reads n bytes at *p, or fails when they run past end. */
static int
take(const char **p, const char *end, void *dst, size_t n)
{
	if ((size_t)(end - *p) < n)
		return -1;
	memcpy(dst, *p, n);
	*p += n;
	return 0;
}

/* Loads and indexes the cache file; an unusable file leaves c empty. */
static void
cache_read(struct cache *c, const char *path)
{
	const char *p, *end;
	char magic[8];
	uint32_t fmt, vlen, count, i;
	struct stat st;
	void *m;
	int fd;

	memset(c, 0, sizeof *c);
	if (path == NULL || (fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		return;
	/*
	 * Mapped, not read: the pages come in at once (MAP_POPULATE) without
	 * a copy, and the decoded plans point into them.  Read-only: nothing
	 * writes to a plan's strings, and a writable private mapping would
	 * make the kernel copy every page up front.  excon replaces the file
	 * by renaming, never in place, so the mapped bytes never change.
	 */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    st.st_size < (1L << 30) && (m = mmap(NULL, (size_t)st.st_size,
	    PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0)) != MAP_FAILED) {
		c->bytes = m;
		c->len = (size_t)st.st_size;
	}
	close(fd);
	p = c->bytes;
	end = p + c->len;
	if (take(&p, end, magic, 8) != 0 || memcmp(magic, CACHE_MAGIC, 8) != 0 ||
	    take(&p, end, &fmt, 4) != 0 || fmt != CACHE_FORMAT ||
	    take(&p, end, &vlen, 4) != 0 || vlen != strlen(EXCON_VERSION) ||
	    (size_t)(end - p) < vlen || memcmp(p, EXCON_VERSION, vlen) != 0)
		goto bad;
	p += vlen;
	if (take(&p, end, &count, 4) != 0 || count > 10000000)
		goto bad;
	c->v = xcalloc(count ? count : 1, sizeof *c->v);
	for (i = 0; i < count; i++) {
		struct centry *e = &c->v[i];

		if (take(&p, end, &e->pathlen, 4) != 0 ||
		    (size_t)(end - p) < e->pathlen)
			goto bad;
		e->path = p;
		p += e->pathlen;
		if (take(&p, end, e->id, sizeof e->id) != 0 ||
		    take(&p, end, &e->bloblen, 4) != 0 ||
		    (size_t)(end - p) < e->bloblen)
			goto bad;
		e->blob = p;
		p += e->bloblen;
		c->n++;
	}
	return;
bad:
	free(c->v);
	if (c->bytes != NULL)
		munmap(c->bytes, c->len);
	memset(c, 0, sizeof *c);
}

/*
 * An arena the plans are decoded into: this header, then the plans.  A
 * block's arenas form a list (status PLAN maps a second one for the
 * plans the first depends on), unmapped with the block.
 */
struct arena_map {
	struct arena_map	*prev;
	size_t		 len;		/* of the whole mapping */
	char		 mem[] __attribute__((aligned(PLAN_ARENA_ALIGN)));
};

/* Unmaps the cache bytes and the arenas of the last plan that used them. */
static void
block_release(struct plan_block *b)
{
	struct arena_map *a = b->arenas, *prev;

	if (b->bytes != NULL)
		munmap(b->bytes, b->len);
	for (; a != NULL; a = prev) {
		prev = a->prev;
		munmap(a, a->len);
	}
	free(b);
}

/*
 * Maps an arena of need zeroed bytes for decoded plans onto b's list, every
 * page present at once (MAP_POPULATE: one call instead of a page fault for
 * each page the decoding touches); NULL when the mapping fails.
 */
static char *
arena_map(struct plan_block *b, size_t need)
{
	size_t len = offsetof(struct arena_map, mem) + need;
	struct arena_map *a;
	void *m;

	m = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	a = m;
	a->prev = b->arenas;
	a->len = len;
	b->arenas = a;
	return a->mem;
}

/* Compares a path with an entry's path. */
static int
entry_cmp(const char *path, const struct centry *e)
{
	size_t n = strlen(path);
	int r = memcmp(path, e->path, n < e->pathlen ? n : e->pathlen);

	if (r != 0)
		return r;
	return n < e->pathlen ? -1 : n > e->pathlen ? 1 : 0;
}

/* The entry for path (entries are sorted by path), or NULL. */
static const struct centry *
cache_find(const struct cache *c, const char *path)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = entry_cmp(path, &c->v[mid]);

		if (r == 0)
			return &c->v[mid];
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/*
 * Writes the cache atomically: a temporary file renamed over the old one.
 * File i's entry is copied from raw[i] when it is set (an entry that
 * matched the file), else encoded from plans[i] when that is set.
 */
static void
cache_write(const char *path, char **files, const struct stat *sts,
    struct plan **plans, const struct centry **raw, size_t n)
{
	struct buf b = BUF_INIT, enc = BUF_INIT, tmp = BUF_INIT;
	uint32_t u, count = 0;
	time_t now = time(NULL);
	size_t i, count_at;
	int fd;

	buf_add(&b, CACHE_MAGIC, 8);
	u = CACHE_FORMAT;
	buf_add(&b, &u, 4);
	u = (uint32_t)strlen(EXCON_VERSION);
	buf_add(&b, &u, 4);
	buf_add(&b, EXCON_VERSION, u);
	count_at = b.len;
	buf_add(&b, &count, 4);
	for (i = 0; i < n; i++) {
		uint64_t id[7];

		/* Racy entries: an edit within the same tick could go unseen. */
		if ((plans[i] == NULL && raw[i] == NULL) ||
		    sts[i].st_mtim.tv_sec >= now - 2 ||
		    sts[i].st_ctim.tv_sec >= now - 2)
			continue;
		identity(&sts[i], id);
		buf_reset(&enc);
		if (raw[i] != NULL)
			buf_add(&enc, raw[i]->blob, raw[i]->bloblen);
		else
			plan_encode(plans[i], &enc);
		u = (uint32_t)strlen(files[i]);
		buf_add(&b, &u, 4);
		buf_add(&b, files[i], u);
		buf_add(&b, id, sizeof id);
		u = (uint32_t)enc.len;
		buf_add(&b, &u, 4);
		buf_add(&b, enc.ptr ? enc.ptr : "", enc.len);
		count++;
	}
	memcpy(b.ptr + count_at, &count, 4);
	buf_printf(&tmp, "%s.%ld.tmp", path, (long)getpid());
	fd = open(buf_cstr(&tmp), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		ssize_t w = write(fd, b.ptr, b.len);

		if (close(fd) == 0 && w == (ssize_t)b.len)
			rename(buf_cstr(&tmp), path);
		unlink(buf_cstr(&tmp));
	}
	buf_free(&b);
	buf_free(&enc);
	buf_free(&tmp);
}

/* One run of plan_set_load_cached: the files, their entries, the plans. */
struct load {
	char			**files;
	size_t			 nfiles;
	struct stat		*sts;
	const struct centry	**hit;		/* the entry matching file i */
	const char		**names;	/* its plan's name (borrowed) */
	char			*decode;	/* 1: decode file i's entry */
	struct plan		**loaded;	/* file i's plan */
	struct plan_block	*block;
	size_t			 fresh;		/* parsed plans that can be cached */
};

/* Parses file i into l->loaded[i]; -1 when it does not load. */
static int
load_parse(struct load *l, size_t i, struct plan_diags *diags)
{
	if (plan_load(&l->loaded[i], l->files[i], diags) != 0)
		return -1;
	l->fresh += l->sts[i].st_ctim.tv_sec < time(NULL) - 2;
	return 0;
}

/*
 * Decodes the entries marked in l->decode into one arena mapped for all
 * of them; an entry that does not decode is dropped and its file parsed.
 */
static int
load_decode(struct load *l, struct plan_diags *diags)
{
	size_t i, need = 0, at = 0;
	char *mem = NULL;
	int ret = 0;

	for (i = 0; i < l->nfiles; i++)
		if (l->decode[i])
			need += plan_decode_need(l->hit[i]->blob,
			    l->hit[i]->blob + l->hit[i]->bloblen);
	if (need > 0)
		mem = arena_map(l->block, need);
	for (i = 0; i < l->nfiles; i++) {
		const struct centry *e = l->hit[i];
		const char *cur;
		size_t n;

		if (!l->decode[i])
			continue;
		l->decode[i] = 0;
		cur = e->blob;
		n = plan_decode_need(e->blob, e->blob + e->bloblen);
		/* Each plan has its own part of the arena, used or not. */
		at += n;
		if (mem != NULL && n > 0 && plan_decode(&cur,
		    e->blob + e->bloblen, mem + at - n, n, &l->loaded[i]) == 0 &&
		    cur == e->blob + e->bloblen) {
			plan_hold(l->loaded[i], l->block);
			continue;
		}
		l->loaded[i] = NULL;
		l->hit[i] = NULL;
		if (load_parse(l, i, diags) != 0)
			ret = -1;
	}
	return ret;
}

/* Compares two plan names by pointer, for finding duplicates. */
static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 1 when the plans of the files (loaded, or named by their entries) have unique names. */
static int
load_names_unique(const struct load *l)
{
	const char **all = xcalloc(l->nfiles ? l->nfiles : 1, sizeof *all);
	size_t i, n = 0;
	int unique = 1;

	for (i = 0; i < l->nfiles; i++) {
		const char *name = l->loaded[i] ? l->loaded[i]->name.s : l->names[i];

		if (name != NULL)
			all[n++] = name;
	}
	qsort(all, n, sizeof *all, name_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(all[i - 1], all[i]) == 0)
			unique = 0;
	free(all);
	return unique;
}

/* Marks for decoding the entries, not decoded yet, of the plan called name. */
static void
load_mark(struct load *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->nfiles; i++)
		if (l->hit[i] != NULL && l->loaded[i] == NULL &&
		    strcmp(l->names[i], name) == 0)
			l->decode[i] = 1;
}

/* Loads plans, using and refreshing the cache; see plancache.h. */
int
plan_set_load_cached_for(struct plan_set *set, char *const *dirs,
    const char *cache_path, const char *want, struct plan_diags *diags)
{
	struct cache c;
	struct load l;
	size_t i, hits = 0;
	int ret;

	if (cache_path == NULL)
		return plan_set_load(set, dirs, diags);
	memset(&l, 0, sizeof l);
	ret = plan_files(dirs, &l.files, &l.nfiles, diags);
	cache_read(&c, cache_path);
	l.block = xcalloc(1, sizeof *l.block);
	l.block->bytes = c.bytes;
	l.block->len = c.len;
	l.block->release = block_release;
	l.sts = xcalloc(l.nfiles ? l.nfiles : 1, sizeof *l.sts);
	l.loaded = xcalloc(l.nfiles ? l.nfiles : 1, sizeof *l.loaded);
	l.hit = xcalloc(l.nfiles ? l.nfiles : 1, sizeof *l.hit);
	l.names = xcalloc(l.nfiles ? l.nfiles : 1, sizeof *l.names);
	l.decode = xcalloc(l.nfiles ? l.nfiles : 1, 1);
	/* The entries that match their files: a changed file is parsed. */
	for (i = 0; i < l.nfiles; i++) {
		const struct centry *e;
		uint64_t id[7];

		if (stat(l.files[i], &l.sts[i]) != 0 ||
		    (e = cache_find(&c, l.files[i])) == NULL)
			continue;
		identity(&l.sts[i], id);
		if (memcmp(id, e->id, sizeof id) != 0 || (want != NULL &&
		    (l.names[i] = plan_encoded_name(e->blob,
		    e->blob + e->bloblen)) == NULL))
			continue;
		l.hit[i] = e;
		l.decode[i] = want == NULL;
	}
	for (i = 0; i < l.nfiles; i++)
		if (l.hit[i] == NULL && load_parse(&l, i, diags) != 0)
			ret = -1;
	/*
	 * status PLAN: the plan called want and then the plans it depends on
	 * (the gate's rule 5 reads them), unless two files define the same
	 * name: plan_set_finish must then see every plan to say which wins.
	 */
	if (want != NULL && !load_names_unique(&l))
		for (i = 0; i < l.nfiles; i++)
			l.decode[i] = l.hit[i] != NULL;
	else if (want != NULL)
		load_mark(&l, want);
	if (load_decode(&l, diags) != 0)
		ret = -1;
	for (i = 0; want != NULL && i < l.nfiles; i++) {
		const struct plan *w = l.loaded[i];
		size_t d;

		if (w == NULL || strcmp(w->name.s, want) != 0)
			continue;
		for (d = 0; d < w->ndeps; d++)
			load_mark(&l, w->deps[d].plan);
		if (load_decode(&l, diags) != 0)
			ret = -1;
	}
	for (i = 0; i < l.nfiles; i++)
		hits += l.hit[i] != NULL;
	/* Rewrite when a parsed file can be cached or an entry went stale. */
	if (l.fresh > 0 || c.n != hits)
		cache_write(cache_path, l.files, l.sts, l.loaded, l.hit, l.nfiles);
	/* The set takes the plans in file order: the first of a name wins. */
	for (i = 0; i < l.nfiles; i++)
		if (l.loaded[i] != NULL)
			plan_set_add(set, l.loaded[i]);
	if (plan_set_finish(set, diags) != 0)
		ret = -1;
	free(c.v);
	/* The cached plans point into the bytes: the last one frees them. */
	if (l.block->refs == 0)
		block_release(l.block);
	free(l.sts);
	free(l.loaded);
	free(l.hit);
	free(l.names);
	free(l.decode);
	plan_files_free(l.files, l.nfiles);
	return ret;
}

/* Loads every plan, using and refreshing the cache. */
int
plan_set_load_cached(struct plan_set *set, char *const *dirs,
    const char *cache_path, struct plan_diags *diags)
{
	return plan_set_load_cached_for(set, dirs, cache_path, NULL, diags);
}
