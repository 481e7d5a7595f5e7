package admin

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamrec/streamrec/internal/objstore"
)

// The bucket's side of the library: what every node sharing the bucket put there. S3 lists keys,
// sizes and ETags only, so each object's metadata (node, stream, start, duration) takes a Stat;
// it is cached by key and ETag (an object put again has another ETag), so a listing costs one
// LIST plus a Stat per new object. Listings are kept for bucketEvery, unless asked to refresh.
const (
	bucketEvery = 15 * time.Second
	// bucketMinEvery spaces even asked-for refreshes: a script calling with refresh=1 in a
	// loop does not make a LIST per call.
	bucketMinEvery = time.Second
	bucketMax      = 10000            // objects listed at most; the listing says when it was cut
	bucketWait     = 10 * time.Second // the LIST of a refresh, and a delete's Stat
	bucketTimeout  = 20 * time.Second // the Stats of a refresh's new objects, together
	bucketStats    = 8                // Stats in flight
)

// bucketListing is one listing of the bucket.
type bucketListing struct {
	Objects []objstore.Object // with their metadata
	Cut     bool              // more than Max objects: the rest are not listed
	Max     int
	At      time.Time // when the bucket answered this listing
	Err     error     // the last refresh failed: Objects are from At (or none)
}

type bucketView struct {
	store *objstore.Store
	max   int // bucketMax (tests list fewer)

	refresh sync.Mutex // one refresh at a time; callers meanwhile wait for its result
	mu      sync.Mutex
	last    bucketListing
	tried   time.Time                  // last refresh, successful or not
	meta    map[string]objstore.Object // by key, with the ETag its Meta was read for
	stats   atomic.Int64               // Stats made, for the tests of the cache
}

func newBucketView(store *objstore.Store) *bucketView {
	return &bucketView{store: store, max: bucketMax, meta: map[string]objstore.Object{}}
}

// listing returns the cached listing, refreshed first when older than bucketEvery, or when
// force and older than bucketMinEvery.
func (b *bucketView) listing(force bool) bucketListing {
	b.refresh.Lock()
	defer b.refresh.Unlock()
	b.mu.Lock()
	age := time.Since(b.tried)
	fresh := age < bucketMinEvery || (!force && age < bucketEvery)
	last := b.last
	b.mu.Unlock()
	if fresh {
		return last
	}
	// The network is used with b.mu released (forget and readers go on); b.meta is only
	// touched by a refresh, which b.refresh keeps to one at a time.
	objs, err := b.list()
	cut := len(objs) > b.max
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), bucketTimeout)
		objs = b.withMeta(ctx, objs[:min(len(objs), b.max)])
		cancel()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tried = time.Now()
	if err != nil {
		b.last.Err = err
	} else {
		b.last = bucketListing{Objects: objs, Cut: cut, Max: b.max, At: b.tried}
	}
	return b.last
}

// list lists the bucket, bounded by bucketWait: a store that hangs keeps the page waiting that
// long, once per bucketEvery.
func (b *bucketView) list() ([]objstore.Object, error) {
	ctx, cancel := context.WithTimeout(context.Background(), bucketWait)
	defer cancel()
	return b.store.List(ctx, b.max+1)
}

// withMeta fills each object's metadata from the cache, or by a Stat (bucketStats at once) for
// objects new or changed since. An object gone meanwhile is left out; one whose Stat failed
// otherwise is listed without metadata and tried again at the next refresh. Caller holds
// b.refresh.
func (b *bucketView) withMeta(ctx context.Context, objs []objstore.Object) []objstore.Object {
	var todo []int
	keep := make(map[string]objstore.Object, len(objs))
	for i, o := range objs {
		if c, ok := b.meta[o.Key]; ok && c.ETag == o.ETag {
			objs[i].Meta = c.Meta
			keep[o.Key] = c
		} else {
			todo = append(todo, i)
		}
	}
	gone := make([]bool, len(objs))
	var wg sync.WaitGroup
	var mu sync.Mutex
	sem := make(chan struct{}, bucketStats)
	for _, i := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			b.stats.Add(1)
			o, err := b.store.Stat(ctx, objs[i].Name)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, objstore.ErrNotFound):
				gone[i] = true
			case err == nil && o.ETag == objs[i].ETag:
				objs[i].Meta = o.Meta
				keep[o.Key] = o
			}
		}(i)
	}
	wg.Wait()
	b.meta = keep // objects no longer listed leave the cache
	out := objs[:0]
	for i, o := range objs {
		if !gone[i] {
			out = append(out, o)
		}
	}
	return out
}

// forget drops a deleted object from the cached listing.
func (b *bucketView) forget(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	objs := b.last.Objects[:0:0]
	for _, o := range b.last.Objects {
		if o.Name != name {
			objs = append(objs, o)
		}
	}
	b.last.Objects = objs
}
