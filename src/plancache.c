/*
 * The plan cache (see plancache.h).  File format, native-endian:
 *   "EXCONPC" NUL, u32 format, u32 length + excon version,
 *   u32 count, then per entry (sorted by path):
 *   u32 length + path, u64 dev, ino, size, mtime s/ns, ctime s/ns,
 *   u32 length + plan_encode() bytes.
 */
#include <errno.h>
#include <fcntl.h>
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
#define CACHE_FORMAT	4u

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
	 * a copy, and the decoded plans point into them.  Private and
	 * writable, so that nothing done to a plan's strings reaches the file;
	 * excon replaces the file by renaming, never in place.
	 */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    st.st_size < (1L << 30) && (m = mmap(NULL, (size_t)st.st_size,
	    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_POPULATE, fd, 0)) != MAP_FAILED) {
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

/* Unmaps the cache bytes of the last plan that pointed into them. */
static void
block_release(struct plan_block *b)
{
	if (b->bytes != NULL)
		munmap(b->bytes, b->len);
	free(b);
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

/* Writes the cache atomically: a temporary file renamed over the old one. */
static void
cache_write(const char *path, char **files, const struct stat *sts,
    struct plan **plans, size_t n)
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
		if (plans[i] == NULL || sts[i].st_mtim.tv_sec >= now - 2 ||
		    sts[i].st_ctim.tv_sec >= now - 2)
			continue;
		identity(&sts[i], id);
		buf_reset(&enc);
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

/* Loads plans, using and refreshing the cache. */
int
plan_set_load_cached(struct plan_set *set, char *const *dirs,
    const char *cache_path, struct plan_diags *diags)
{
	struct cache c;
	struct stat *sts = NULL;
	struct plan **loaded = NULL;
	struct plan_block *block;
	char **files;
	size_t nfiles, i, hits = 0, fresh = 0;
	int ret;

	if (cache_path == NULL)
		return plan_set_load(set, dirs, diags);
	ret = plan_files(dirs, &files, &nfiles, diags);
	cache_read(&c, cache_path);
	block = xcalloc(1, sizeof *block);
	block->bytes = c.bytes;
	block->len = c.len;
	block->release = block_release;
	sts = xcalloc(nfiles ? nfiles : 1, sizeof *sts);
	loaded = xcalloc(nfiles ? nfiles : 1, sizeof *loaded);
	for (i = 0; i < nfiles; i++) {
		const struct centry *e;
		struct plan *p = NULL;
		uint64_t id[7];

		if (stat(files[i], &sts[i]) == 0 &&
		    (e = cache_find(&c, files[i])) != NULL) {
			const char *cur = e->blob;

			identity(&sts[i], id);
			if (memcmp(id, e->id, sizeof id) == 0 &&
			    plan_decode(&cur, e->blob + e->bloblen, &p) == 0 &&
			    cur == e->blob + e->bloblen) {
				hits++;
				plan_hold(p, block);
				loaded[i] = p;
				plan_set_add(set, p);
				continue;
			}
			plan_free(p);
			p = NULL;
		}
		if (plan_load(&p, files[i], diags) != 0) {
			ret = -1;
			continue;
		}
		loaded[i] = p;
		plan_set_add(set, p);
		fresh += sts[i].st_ctim.tv_sec < time(NULL) - 2;
	}
	/* Rewrite when a parsed file can be cached or an entry went stale. */
	if (fresh > 0 || c.n != hits)
		cache_write(cache_path, files, sts, loaded, nfiles);
	if (plan_set_finish(set, diags) != 0)
		ret = -1;
	free(c.v);
	/* The cached plans point into the bytes: the last one frees them. */
	if (block->refs == 0)
		block_release(block);
	free(sts);
	free(loaded);
	plan_files_free(files, nfiles);
	return ret;
}
